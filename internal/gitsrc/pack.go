package gitsrc

import (
	"bytes"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// objectOverhead is what each object counts toward the unpacked limit
// besides its content: go-git's bookkeeping of it while parsing and in
// memory storage.
const objectOverhead = 512

// tooLargeError is a pack whose objects, unpacked, would exceed a limit:
// one object (object) or all of them.
type tooLargeError struct {
	object bool
	size   int64 // the object's size, or the running total
}

func (e *tooLargeError) Error() string {
	if e.object {
		return fmt.Sprintf("an object of %d bytes", e.size)
	}
	return fmt.Sprintf("objects of %d bytes or more", e.size)
}

func (e *tooLargeError) Unwrap() error { return ErrTooLarge }

// checkPack reads the headers of a pack's objects and refuses it when an
// object or all of them together, unpacked, would exceed lim: a pack
// compresses well (a file of zeros shrinks a thousandfold), and a delta
// of a few bytes can describe an object of gigabytes, so the download
// limit alone bounds nothing once unpacked.
//
// Each object header declares the object's unpacked size; a delta's own
// header (the first bytes of its data) declares the size of the object it
// makes. go-git's scanner and delta patcher refuse data that runs past
// these declared sizes, so checking them bounds what parsing the pack
// writes. Checking inflates each object once into a counter, within the
// declared size, and allocates nothing per object.
func checkPack(pack []byte, lim limits) error {
	s := packfile.NewScanner(bytes.NewReader(pack))
	_, count, err := s.Header()
	if err != nil {
		return err
	}
	total := int64(count) * objectOverhead
	if total > lim.unpacked {
		return &tooLargeError{size: total}
	}
	var dh deltaHeader
	for range count {
		oh, err := s.NextObjectHeader()
		if err != nil {
			return err
		}
		size := oh.Length
		switch oh.Type {
		case plumbing.OFSDeltaObject, plumbing.REFDeltaObject:
			// The delta's data (copy and insert instructions) is at most
			// about as large as the object it makes.
			if oh.Length > 2*lim.object+64 {
				return &tooLargeError{object: true, size: oh.Length}
			}
			dh = deltaHeader{}
			if _, _, err := s.NextObject(&dh); err != nil {
				return err
			}
			target, err := dh.targetSize()
			if err != nil {
				return err
			}
			size = target
			total += oh.Length // parsing holds the delta's data too
		default:
			if oh.Length > lim.object {
				return &tooLargeError{object: true, size: oh.Length}
			}
			if _, _, err := s.NextObject(io.Discard); err != nil {
				return err
			}
		}
		if size > lim.object {
			return &tooLargeError{object: true, size: size}
		}
		if total += size; total > lim.unpacked {
			return &tooLargeError{size: total}
		}
	}
	return nil
}

// deltaHeader keeps the first bytes of a delta's data, which declare the
// sizes of the base and of the object the delta makes, and discards the
// rest.
type deltaHeader struct {
	buf [2 * 10]byte // two variable-length integers of at most 10 bytes
	n   int
}

func (d *deltaHeader) Write(p []byte) (int, error) {
	d.n += copy(d.buf[d.n:], p)
	return len(p), nil
}

var errBadDelta = fmt.Errorf("%w: a delta's header is invalid", packfile.ErrMalformedPackFile)

// targetSize decodes the second size of the header: the object's.
func (d *deltaHeader) targetSize() (int64, error) {
	b := d.buf[:d.n]
	if _, n := leb128(b); n > 0 {
		if size, m := leb128(b[n:]); m > 0 && size <= 1<<62 {
			return int64(size), nil
		}
	}
	return 0, errBadDelta
}

// leb128 decodes a little-endian base-128 integer as Git's deltas write
// sizes; n is 0 when b does not hold a complete one that fits 63 bits.
func leb128(b []byte) (v uint64, n int) {
	var shift uint
	for i, c := range b {
		if shift > 56 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}
