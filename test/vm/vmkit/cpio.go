package vmkit

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// CPIO writes a newc ("070701") archive, the format the kernel unpacks as initramfs. It writes
// headers itself, so device nodes (/dev/console) need no root and no mknod on the host.
type CPIO struct {
	w     *bufio.Writer
	ino   uint32
	off   int64
	seen  map[string]bool
	err   error
	close bool
}

// NewCPIO starts an archive on w.
func NewCPIO(w io.Writer) *CPIO {
	return &CPIO{w: bufio.NewWriterSize(w, 1<<20), ino: 1, seen: map[string]bool{}}
}

// File mode type bits of cpio headers (same as stat's S_IF*).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// Dir adds a directory (and its missing parents).
func (c *CPIO) Dir(name string, perm uint32) error {
	name = clean(name)
	if name == "" || c.seen[name] {
		return c.err
	}
	if err := c.parents(name); err != nil {
		return err
	}
	c.seen[name] = true
	return c.entry(name, modeDir|perm, 0, 0, nil, 0)
}

// File adds a regular file of size bytes read from r.
func (c *CPIO) File(name string, perm uint32, size int64, r io.Reader) error {
	name = clean(name)
	if c.seen[name] {
		return fmt.Errorf("cpio: %s added twice", name)
	}
	if err := c.parents(name); err != nil {
		return err
	}
	c.seen[name] = true
	return c.entry(name, modeFile|perm, 0, 0, r, size)
}

// Bytes adds a regular file with the given content.
func (c *CPIO) Bytes(name string, perm uint32, b []byte) error {
	return c.File(name, perm, int64(len(b)), strings.NewReader(string(b)))
}

// Symlink adds a symbolic link name -> target.
func (c *CPIO) Symlink(name, target string) error {
	name = clean(name)
	if c.seen[name] {
		return fmt.Errorf("cpio: %s added twice", name)
	}
	if err := c.parents(name); err != nil {
		return err
	}
	c.seen[name] = true
	return c.entry(name, modeSymlink|0o777, 0, 0, strings.NewReader(target), int64(len(target)))
}

// CharDev adds a character device node (e.g. /dev/console, 5:1), which the kernel opens as
// init's stdin/stdout/stderr before any devtmpfs is mounted.
func (c *CPIO) CharDev(name string, perm, major, minor uint32) error {
	name = clean(name)
	if err := c.parents(name); err != nil {
		return err
	}
	c.seen[name] = true
	return c.entry(name, modeChar|perm, major, minor, nil, 0)
}

// Has reports whether name was added.
func (c *CPIO) Has(name string) bool { return c.seen[clean(name)] }

// Close writes the trailer and flushes; it does not close the underlying writer.
func (c *CPIO) Close() error {
	if c.close {
		return c.err
	}
	c.close = true
	if err := c.entry("TRAILER!!!", 0, 0, 0, nil, 0); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("cpio: flush: %w", err)
	}
	return nil
}

func (c *CPIO) parents(name string) error {
	if d := path.Dir(name); d != "." && d != "/" && d != "" && !c.seen[d] {
		return c.Dir(d, 0o755)
	}
	return c.err
}

func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *CPIO) entry(name string, mode, rmajor, rminor uint32, r io.Reader, size int64) error {
	if c.err != nil {
		return c.err
	}
	if size > 0xffffffff {
		c.err = fmt.Errorf("cpio: %s: %d bytes is too large for newc", name, size)
		return c.err
	}
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	ino := c.ino
	c.ino++
	if name == "TRAILER!!!" {
		ino = 0
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	if r != nil {
		n, err := io.CopyN(c.w, r, size)
		c.off += n
		if err != nil && c.err == nil {
			c.err = fmt.Errorf("cpio: write %s: %w", name, err)
		}
		c.pad()
	}
	return c.err
}

func (c *CPIO) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	if err != nil {
		c.err = fmt.Errorf("cpio: %w", err)
	}
}

func (c *CPIO) pad() {
	if rem := c.off % 4; rem != 0 {
		c.write(make([]byte, 4-rem))
	}
}
