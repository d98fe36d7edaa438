package http

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/argon2"
)

// TestHashSlots checks that password hashing never runs more than
// MaxConcurrentHashes at once, however many requests arrive together, and
// that a request which cannot get a slot in time gets 503 unavailable.
func TestHashSlots(t *testing.T) {
	cheap := argon2.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	s := NewServer(Config{PasswordParams: cheap, MaxConcurrentHashes: 2}, Deps{}, nil, nil)

	t.Run("Bounded", func(t *testing.T) {
		var running, peak atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				release, err := s.hashSlot()
				if err != nil {
					t.Error(err)
					return
				}
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if _, err := argon2.HashWith("password", cheap); err != nil {
					t.Error(err)
				}
				running.Add(-1)
				release()
			})
		}
		wg.Wait()
		if got := peak.Load(); got > 2 || got < 1 {
			t.Fatalf("peak concurrent hashes = %d, want 1..2", got)
		}
	})

	t.Run("ErrUnavailable", func(t *testing.T) {
		s.hashWait = 10 * time.Millisecond
		s.hashSlots <- struct{}{}
		s.hashSlots <- struct{}{}
		defer func() { <-s.hashSlots; <-s.hashSlots }()
		if _, err := s.hashPassword("password"); foyer.ErrorCode(err) != foyer.EUnavailable {
			t.Fatalf("hashPassword err=%v, want unavailable", err)
		}
		if _, err := s.verifyPassword("password", ""); foyer.ErrorCode(err) != foyer.EUnavailable {
			t.Fatalf("verifyPassword err=%v, want unavailable", err)
		}
	})
}
