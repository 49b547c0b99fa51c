package netconn

import (
	"errors"
	"io"
	"sync"
	"testing"
)

// TestStateFirstErrorOnce: Err is io.EOF until an error is recorded, then
// the first one, whatever comes after; Finish closes Done once, from any
// number of goroutines.
func TestStateFirstErrorOnce(t *testing.T) {
	var s State
	s.Init()
	if err := s.Err(); err != io.EOF {
		t.Fatalf("Err before any: got %v, want io.EOF", err)
	}
	first, second := errors.New("first"), errors.New("second")
	s.SetErr(first)
	s.SetErr(second)
	if err := s.Err(); err != first {
		t.Fatalf("Err: got %v, want the first", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); s.Finish() }()
	}
	wg.Wait()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Finish")
	}
}
