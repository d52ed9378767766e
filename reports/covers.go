package reports

// Covers is what a watcher group's covers oracle found: every write the
// writer group had acknowledged, checked against what each of this
// group's watchers received (docs/watch.md).
type Covers struct {
	// Group is the writer group; Ack the field of its responses holding a
	// write's acknowledged value; Event the field of the watchers'
	// responses holding the values of the writes they see; From the field
	// of a watcher's first response where its watch starts ("" when the
	// start is its first event's value minus one).
	Group string `json:"group"`
	Ack   string `json:"ack"`
	Event string `json:"event"`
	From  string `json:"from,omitempty"`
	// Writes counts the writes acknowledged to the writer group and
	// logged; Unlogged those acknowledged once the log was full
	// (MaxWrites), which are not judged.
	Writes    uint64 `json:"writes"`
	Unlogged  uint64 `json:"unlogged,omitempty"`
	MaxWrites int    `json:"max_writes"`
	// SettleSeconds is how long before the stop a write must have been
	// acknowledged to be judged: a watcher has that long to deliver it.
	SettleSeconds float64 `json:"settle_seconds"`
	// Watchers counts the group's watchers; Started those that received
	// a response (the others covered nothing, and fail the check).
	Watchers int `json:"watchers"`
	Started  int `json:"started"`
	// Covered sums, over the watchers, the writes each had to see;
	// Missing, Duplicates and Reorders sum what went wrong.
	Covered    uint64 `json:"covered"`
	Missing    uint64 `json:"missing"`
	Duplicates uint64 `json:"duplicates"`
	Reorders   uint64 `json:"reorders"`
	// Failing are the watchers that missed, repeated or reordered a write
	// or never started, the first MaxFailing of them by client index.
	Failing []CoverWatcher `json:"failing,omitempty"`
	// FailingWatchers counts every such watcher (Failing may be cut).
	FailingWatchers int `json:"failing_watchers"`
	// WriteToWatch is, per write a watcher received, the time from the
	// writer receiving the acknowledgement to the watcher receiving the
	// event (0 when the event came first).
	WriteToWatch Histogram `json:"write_to_watch"`
}

// CoverWatcher is one watcher's account under a covers oracle. Value
// lists hold the first few values, a run of consecutive ones as "16..35".
type CoverWatcher struct {
	// Client is the watcher's index in its group.
	Client int `json:"client"`
	// Started is false when the watcher never received a response.
	Started bool `json:"started"`
	// From is where its watch started (the From field of its first
	// response, or its first event's value minus one).
	From int64 `json:"from"`
	// Covered counts the writes it had to see; Missing those it never
	// received, Duplicates those it received again, Reorders those that
	// came after a write with a greater value.
	Covered      uint64   `json:"covered"`
	Missing      uint64   `json:"missing"`
	MissingFirst []string `json:"missing_first,omitempty"`
	Duplicates   uint64   `json:"duplicates"`
	DupFirst     []string `json:"duplicates_first,omitempty"`
	Reorders     uint64   `json:"reorders"`
	ReorderFirst []string `json:"reorders_first,omitempty"`
}
