package scenario

import (
	"fmt"
	"strings"
)

// Covers declares a cross-group oracle on a watcher group: every write
// the writer group Group had acknowledged must reach every watcher of this
// group whose watch covers it, exactly once and in order. A write's
// identity is its acknowledgement: the integer at Ack in the writer's
// response (etcd's header.revision of a PutResponse); a watcher sees a
// write when a response of its own carries that value at Event
// (events[].kv.mod_revision). A watcher covers a write when the write's
// ack value is above the watcher's start (From of its first response, or
// its first event's value minus one when From is not set), or when the
// write was sent after that first response arrived (its watch existed
// then, whatever values a restarted server gave).
type Covers struct {
	// Group is the writer group whose acknowledged writes are covered.
	Group string `yaml:"group"`
	// Ack is the field of the writer's responses holding a write's
	// acknowledged value (an integer, or a string holding one).
	Ack string `yaml:"ack"`
	// Event is the field of the watcher's responses holding the values of
	// the writes it sees; name[] reads every element of a list.
	Event string `yaml:"event"`
	// From, when set, is the field of the watcher's first response that
	// says where its watch starts (etcd's created response:
	// header.revision): writes acknowledged with a greater value are
	// covered.
	From string `yaml:"from"`
}

// validateCovers checks the covers oracle of group i: the writer group
// exists and is another group, and the paths are set (their types are
// checked against the methods when the calls are resolved).
func (v *validator) validateCovers(i int) {
	g := v.s.Groups[i]
	if g.Call == nil || g.Call.Expect.Covers == nil {
		return
	}
	c := g.Call.Expect.Covers
	p := fmt.Sprintf("groups[%d].call.expect.covers", i)
	var others []string
	for j, o := range v.s.Groups {
		if j != i && o.Name != "" {
			others = append(others, o.Name)
		}
	}
	switch {
	case c.Group == "":
		v.add(p+".group", "must be set: the writer group whose acknowledged writes this group must see; groups: %s", OneOf(others))
	case c.Group == g.Name:
		v.add(p+".group", "a group cannot cover its own writes; name the writer group: %s", OneOf(others))
	case !containsString(others, c.Group):
		v.add(p+".group", "%s", UnknownChoice("group", c.Group, others))
	}
	if c.Ack == "" {
		v.add(p+".ack", "must be set: the field of the writer's response holding the acknowledged value, e.g. header.revision")
	} else if strings.Contains(c.Ack, "[]") {
		v.add(p+".ack", "%s: a plain path of fields to one integer (a response acknowledges one write), without []", c.Ack)
	}
	if c.Event == "" {
		v.add(p+".event", "must be set: the field of this group's responses holding the values of the writes seen, e.g. events[].kv.mod_revision")
	}
	if strings.Contains(c.From, "[]") {
		v.add(p+".from", "%s: a plain path of fields to one integer, without []", c.From)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
