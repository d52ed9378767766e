package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
)

// profiles writes the run's pprof files: a CPU profile over the whole run
// and a heap profile taken when the run's duration ends (streams still
// open, before the drain), which is when a scale run's memory peaks.
type profiles struct {
	cpu     *os.File
	memPath string
	memOnce sync.Once
	memErr  error
}

// startProfiles opens and starts what was asked for ("" = not asked).
func startProfiles(cpuPath, memPath string) (*profiles, error) {
	p := &profiles{memPath: memPath}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		p.cpu = f
	}
	return p, nil
}

// heap writes the heap profile once; later calls do nothing.
func (p *profiles) heap() {
	p.memOnce.Do(func() {
		if p.memPath == "" {
			return
		}
		f, err := os.Create(p.memPath)
		if err != nil {
			p.memErr = fmt.Errorf("--memprofile: %w", err)
			return
		}
		runtime.GC() // the profile shows live objects as of the last GC
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			p.memErr = fmt.Errorf("--memprofile: %w", err)
			return
		}
		if err := f.Close(); err != nil {
			p.memErr = fmt.Errorf("--memprofile: %w", err)
		}
	})
}

// stop ends the CPU profile and writes the heap profile if the run ended
// before its duration did; it reports the first error.
func (p *profiles) stop() error {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		p.cpu = nil
	}
	p.heap()
	return p.memErr
}
