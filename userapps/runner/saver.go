package runner

import (
	"context"
	"time"
)

// saver hands a run's notebook to Job.Save while the run goes on: at most
// once per interval, from its own goroutine, so a slow disk never holds up
// the kernel's messages. Changes made while a save is in progress or
// waiting for the interval are taken by the next save.
type saver struct {
	rn       *run
	interval time.Duration
	now      func() time.Time
	dirty    chan struct{}
	quit     chan struct{}
	done     chan struct{}
}

// startSaver starts the run's saver with a first save pending (the
// notebook with its parameters and cleared outputs). Without Job.Save it
// saves nothing.
func (rn *run) startSaver(ctx context.Context) *saver {
	s := &saver{rn: rn, interval: rn.r.opts.SaveInterval, now: rn.r.opts.Now,
		dirty: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	rn.saver = s
	if rn.job.Save == nil {
		close(s.done)
		return s
	}
	s.touch()
	go s.loop(ctx)
	return s
}

// touch says the notebook changed.
func (s *saver) touch() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// stop ends the loop after the save in progress, if any; the caller makes
// the final save.
func (s *saver) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

func (s *saver) loop(ctx context.Context) {
	defer close(s.done)
	var last time.Time
	for {
		select {
		case <-s.dirty:
		case <-s.quit:
			return
		}
		if !last.IsZero() {
			if wait := s.interval - s.now().Sub(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-s.quit:
					t.Stop()
					return
				}
			}
		}
		data, err := s.rn.snapshot()
		if err == nil {
			err = s.rn.job.Save(context.WithoutCancel(ctx), data)
		}
		if err != nil {
			s.rn.r.log.Warn("save a running notebook", "err", err)
		}
		last = s.now()
	}
}
