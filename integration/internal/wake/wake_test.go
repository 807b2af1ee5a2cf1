package wake

import "testing"

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNotifyWakesEveryChannelTakenBefore(t *testing.T) {
	var s Signal
	a, b := s.C(), s.C()
	if closed(a) {
		t.Fatal("before Notify: got a closed channel, expect an open one")
	}
	s.Notify()
	for name, ch := range map[string]<-chan struct{}{"first": a, "second": b} {
		if !closed(ch) {
			t.Errorf("%s channel after Notify: got open, expect closed", name)
		}
	}
	if after := s.C(); closed(after) {
		t.Error("channel taken after Notify: got closed, expect open until the next Notify")
	}
}

func TestNotifyWithoutWaitersDoesNotBlock(t *testing.T) {
	var s Signal
	s.Notify()
	s.Notify()
	if closed(s.C()) {
		t.Error("got a closed channel, expect Notify without waiters to leave nothing pending")
	}
}
