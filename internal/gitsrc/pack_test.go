package gitsrc

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"
)

// packBuilder writes a pack file by hand, to make packs no Git would:
// a delta of a few kilobytes that makes an object of megabytes, or an
// object whose data runs past its declared size.
type packBuilder struct {
	buf     bytes.Buffer
	count   uint32
	offsets []int64
}

func newPack() *packBuilder {
	b := &packBuilder{}
	b.buf.WriteString("PACK")
	b.buf.Write([]byte{0, 0, 0, 2, 0, 0, 0, 0}) // version 2; the count is set by bytes
	return b
}

// object adds an object of type typ declaring size, with data (which
// may differ from size) compressed. For an OFS delta, base is the index
// of the base object.
func (b *packBuilder) object(t *testing.T, typ plumbing.ObjectType, size int, data []byte, base int) int {
	t.Helper()
	off := int64(b.buf.Len())
	b.offsets = append(b.offsets, off)
	b.count++
	// Type and size: 3 bits of type, then the size 4 bits first, 7 after.
	c := byte(typ)<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b.buf.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.buf.WriteByte(c)
	if typ == plumbing.OFSDeltaObject {
		d := off - b.offsets[base]
		enc := []byte{byte(d & 0x7f)}
		for d >>= 7; d > 0; d >>= 7 {
			d--
			enc = append([]byte{byte(0x80 | d&0x7f)}, enc...)
		}
		b.buf.Write(enc)
	}
	z := zlib.NewWriter(&b.buf)
	if _, err := z.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return len(b.offsets) - 1
}

func (b *packBuilder) bytes() []byte {
	p := bytes.Clone(b.buf.Bytes())
	binary.BigEndian.PutUint32(p[8:12], b.count)
	sum := sha1.Sum(p)
	return append(p, sum[:]...)
}

// bomb is a pack of a 1 KiB blob and a delta of it that makes a blob of
// copies KiB, by repeating one copy instruction.
func bomb(t *testing.T, copies int) []byte {
	t.Helper()
	p := newPack()
	base := p.object(t, plumbing.BlobObject, 1024, bytes.Repeat([]byte("a"), 1024), 0)
	delta := appendLEB128(nil, 1024)
	delta = appendLEB128(delta, uint64(copies)*1024)
	for range copies {
		delta = append(delta, 0x80|0x20, 0x04) // copy from offset 0, size 0x0400
	}
	p.object(t, plumbing.OFSDeltaObject, len(delta), delta, base)
	return p.bytes()
}

func appendLEB128(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestCheckPack(t *testing.T) {
	t.Parallel()
	const mib, kib256 = 1 << 20, 256 << 10
	zeros := newPack()
	zeros.object(t, plumbing.BlobObject, 2*mib, make([]byte, 2*mib), 0)
	lying := newPack()
	lying.object(t, plumbing.BlobObject, 10, make([]byte, 64<<10), 0)
	many := newPack()
	for i := range 8 {
		many.object(t, plumbing.BlobObject, kib256, bytes.Repeat([]byte{byte('a' + i)}, kib256), 0)
	}
	huge := newPack().bytes()
	binary.BigEndian.PutUint32(huge[8:12], 1<<31) // announces two billion objects, holds none

	for _, tc := range []struct {
		name string
		pack []byte
		lim  limits
		want string // "" accepted; "object", "total" or "malformed"
	}{
		{"delta within limits", bomb(t, 8*1024), limits{object: 16 * mib, unpacked: 64 * mib}, ""},
		{"delta making a large object", bomb(t, 8*1024), limits{object: mib, unpacked: 64 * mib}, "object"},
		{"delta past the total", bomb(t, 8*1024), limits{object: 16 * mib, unpacked: 4 * mib}, "total"},
		{"compressible object", zeros.bytes(), limits{object: mib, unpacked: 64 * mib}, "object"},
		{"compressible object allowed", zeros.bytes(), limits{object: 2 * mib, unpacked: 64 * mib}, ""},
		{"objects past the total", many.bytes(), limits{object: kib256, unpacked: mib}, "total"},
		{"objects within the total", many.bytes(), limits{object: kib256, unpacked: 3 * mib}, ""},
		{"object count", huge, limits{object: mib, unpacked: 64 * mib}, "total"},
		{"data past the declared size", lying.bytes(), limits{object: 16 * mib, unpacked: 64 * mib}, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkPack(tc.pack, tc.lim)
			var big *tooLargeError
			switch tc.want {
			case "":
				if err != nil {
					t.Fatalf("checkPack = %v, want accepted", err)
				}
			case "object", "total":
				if !errors.As(err, &big) || big.object != (tc.want == "object") || !errors.Is(err, ErrTooLarge) {
					t.Fatalf("checkPack = %v, want the %s limit", err, tc.want)
				}
			default:
				if err == nil || errors.As(err, &big) {
					t.Fatalf("checkPack = %v, want a malformed pack", err)
				}
			}
		})
	}
}

// The delta check reads sizes as go-git does: the pack it accepts makes
// the object it announced.
func TestCheckPackDeltaSize(t *testing.T) {
	t.Parallel()
	pack := bomb(t, 2048)
	if err := checkPack(pack, limits{object: 2 << 20, unpacked: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := checkPack(pack, limits{object: 2<<20 - 1, unpacked: 8 << 20}); err == nil {
		t.Fatal("a 2 MiB object passed a limit one byte smaller")
	}
	st := memory.NewStorage()
	p, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(pack)), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("a", 2<<20)
	found := false
	for h, o := range st.Blobs {
		if o.Size() != int64(len(want)) {
			continue
		}
		r, err := o.Reader()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		if string(b) != want {
			t.Errorf("blob %s is not the expected content", h)
		}
		found = true
	}
	if !found {
		t.Errorf("no blob of %d bytes among %d", len(want), len(st.Blobs))
	}
}
