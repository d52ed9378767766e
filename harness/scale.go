package harness

import (
	"math"
	"time"

	"github.com/streambench/streambench/harness/scenario"
)

// scaled returns a copy of sc with the WithCompress and WithClientScale
// options applied (sc itself when neither is set).
func scaled(sc *scenario.Scenario, cfg config) *scenario.Scenario {
	if (cfg.compress <= 0 || cfg.compress == 1) && (cfg.clientScale <= 0 || cfg.clientScale == 1) {
		return sc
	}
	out := *sc
	out.Groups = append([]scenario.Group(nil), sc.Groups...)
	out.Faults = append([]scenario.Fault(nil), sc.Faults...)
	if f := cfg.compress; f > 0 && f < 1 {
		d := func(x scenario.Duration) scenario.Duration { return scenario.Duration(float64(x) * f) }
		out.Duration, out.GracefulStop = d(sc.Duration), d(sc.GracefulStop)
		for i := range out.Groups {
			g := &out.Groups[i]
			g.Start = d(g.Start)
			if len(g.Stages) > 0 {
				st := append([]scenario.ClientStage(nil), g.Stages...)
				for j := range st {
					st[j].Duration = d(st[j].Duration)
				}
				g.Stages = st
			}
			if g.Arrival != nil {
				a := *g.Arrival
				a.Stages = append([]scenario.RateStage(nil), a.Stages...)
				for j := range a.Stages {
					a.Stages[j].Duration = d(a.Stages[j].Duration)
				}
				g.Arrival = &a
			}
		}
		for i := range out.Faults {
			fl := &out.Faults[i]
			fl.At, fl.For, fl.Every, fl.Until = d(fl.At), d(fl.For), d(fl.Every), d(fl.Until)
			if p, ok := fl.Params["grace"]; ok {
				if g, err := time.ParseDuration(p.Value); err == nil {
					params := make(map[string]scenario.Param, len(fl.Params))
					for k, v := range fl.Params {
						params[k] = v
					}
					params["grace"] = scenario.Param{Value: time.Duration(float64(g) * f).String(), Pos: p.Pos}
					fl.Params = params
				}
			}
		}
	}
	if f := cfg.clientScale; f > 0 && f != 1 {
		for i := range out.Groups {
			g := &out.Groups[i]
			g.Clients = max(1, int(math.Round(float64(g.Clients)*f)))
			g.Connections = min(g.Clients, max(1, int(math.Round(float64(g.Connections)*f))))
		}
	}
	return &out
}
