package foyer

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// IDs generates UUIDv7 ids whose timestamp is the creation millisecond, so
// that id order is creation order and a creation-time range is an id
// range (UserFilter's created_after/created_before). Within one
// millisecond the ids count up from a random start (RFC 9562 §6.2, method
// 3), so the ids of one generator stay ordered even when the clock stands
// still; ids of several generators within one millisecond are ordered at
// random, and always unique. The zero value is ready to use and safe for
// concurrent use. Both stores use it, so their ids are built alike.
type IDs struct {
	mu     sync.Mutex
	lastMs int64
	last   [16]byte
}

// New returns the next id for the millisecond of now.
func (g *IDs) New(now time.Time) [16]byte {
	ms := now.UnixMilli()
	g.mu.Lock()
	defer g.mu.Unlock()
	var id [16]byte
	if ms == g.lastMs {
		id = g.last
		// The 62 bits after the variant count up; they started below
		// 2^61, so they cannot overflow within one millisecond.
		v := binary.BigEndian.Uint64(id[8:]) & (1<<62 - 1)
		binary.BigEndian.PutUint64(id[8:], v+1)
	} else {
		rand.Read(id[6:])
		id[8] &= 0x1f // start the counter below 2^61
	}
	putIDMs(&id, ms)
	id[6] = 0x70 | id[6]&0x0f // version 7
	id[8] = 0x80 | id[8]&0x3f // RFC 9562 variant
	g.lastMs, g.last = ms, id
	return id
}

// maxIDMs is the last millisecond a UUIDv7 can name: its timestamp has 48
// bits.
const maxIDMs = 1<<48 - 1

// IDFloor returns the smallest UUIDv7 of the millisecond ms: every id
// created at ms or later sorts at or after it. A time before 1970 is
// clamped to the smallest id and one past the year 10889 to the last
// millisecond, so that a range never wraps around: a negative ms must not
// become a far future through its two's-complement bytes.
func IDFloor(ms int64) [16]byte {
	var id [16]byte
	putIDMs(&id, min(max(ms, 0), maxIDMs))
	return id
}

// putIDMs writes the 48-bit big-endian timestamp of a UUIDv7.
func putIDMs(id *[16]byte, ms int64) {
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
}
