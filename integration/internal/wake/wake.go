package wake

import "sync"

// Signal wakes every goroutine waiting on it at the next Notify. The zero
// value is ready to use; a Signal must not be copied after first use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed at the next Notify. A waiter takes
// it before it reads the state it watches, so that a change made between
// the read and the wait still wakes it.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter holding a channel from C. It never blocks,
// so owners may call it while holding their own locks.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
