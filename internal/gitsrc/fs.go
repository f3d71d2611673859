package gitsrc

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// errSymlink is why Open refuses a symbolic link.
var errSymlink = errors.New("is a symbolic link")

func (r *repo) fs(hash string) (fs.FS, error) {
	c, err := r.commit(hash)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	return &treeFS{root: t, mtime: c.Committer.When}, nil
}

// treeFS is a commit's tree as a read-only file system. Directories and
// regular files behave as usual; symbolic links are listed (with
// fs.ModeSymlink, also by Stat, which does not follow them) but cannot be
// opened; submodules are left out. Every ModTime is the commit's time.
type treeFS struct {
	root  *object.Tree
	mtime time.Time
}

var (
	_ fs.ReadDirFS   = (*treeFS)(nil)
	_ fs.StatFS      = (*treeFS)(nil)
	_ fs.ReadFileFS  = (*treeFS)(nil)
	_ fs.ReadLinkFS  = (*treeFS)(nil)
	_ fs.ReadDirFile = (*dirFile)(nil)
)

// node is one path of the tree: the root or an entry.
type node struct {
	fullPath string
	name     string
	mode     filemode.FileMode
}

func (f *treeFS) lookup(op, name string) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return node{fullPath: ".", name: ".", mode: filemode.Dir}, nil
	}
	e, err := f.root.FindEntry(name)
	if err != nil || e.Mode == filemode.Submodule {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return node{fullPath: name, name: path.Base(name), mode: e.Mode}, nil
}

func (f *treeFS) info(n node) (*fileInfo, error) {
	fi := &fileInfo{name: n.name, mtime: f.mtime, mode: modeOf(n.mode)}
	if n.mode == filemode.Dir {
		return fi, nil
	}
	size, err := f.root.Size(n.fullPath)
	if err != nil {
		return nil, err
	}
	fi.size = size
	return fi, nil
}

func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	switch n.mode {
	case filemode.Dir:
		t := f.root
		if name != "." {
			if t, err = f.root.Tree(name); err != nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: err}
			}
		}
		fi, _ := f.info(n)
		return &dirFile{fsys: f, tree: t, info: fi}, nil
	case filemode.Symlink:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errSymlink}
	}
	b, err := f.read(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, err
	}
	return &file{Reader: bytes.NewReader(b), info: fi}, nil
}

func (f *treeFS) read(name string) ([]byte, error) {
	tf, err := f.root.File(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	rd, err := tf.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadFile reads a regular file.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	switch n.mode {
	case filemode.Dir:
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	case filemode.Symlink:
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errSymlink}
	}
	return f.read(name)
}

// Stat describes name without following a symbolic link.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return f.info(n)
}

// Lstat is Stat: links are never followed.
func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return f.info(n)
}

// ReadLink returns a symbolic link's target, as stored in the repository.
func (f *treeFS) ReadLink(name string) (string, error) {
	n, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.read(name)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadDir lists a directory sorted by name.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	dir, ok := d.(*dirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return dir.ReadDir(-1)
}

// file is an open regular file, read into memory.
type file struct {
	*bytes.Reader
	info *fileInfo
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	fsys    *treeFS
	tree    *object.Tree
	info    *fileInfo
	entries []fs.DirEntry // nil until the first ReadDir
	offset  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	if d.entries == nil {
		d.entries = []fs.DirEntry{}
		for i := range d.tree.Entries {
			e := &d.tree.Entries[i]
			if e.Mode == filemode.Submodule {
				continue
			}
			fi := &fileInfo{name: e.Name, mtime: d.fsys.mtime, mode: modeOf(e.Mode)}
			if e.Mode != filemode.Dir {
				sz, err := d.tree.Size(e.Name)
				if err != nil {
					return nil, err
				}
				fi.size = sz
			}
			d.entries = append(d.entries, fs.FileInfoToDirEntry(fi))
		}
		sort.Slice(d.entries, func(i, j int) bool { return d.entries[i].Name() < d.entries[j].Name() })
	}
	rest := d.entries[d.offset:]
	if count <= 0 {
		d.offset = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if count > len(rest) {
		count = len(rest)
	}
	d.offset += count
	return rest[:count], nil
}

// fileInfo describes a tree entry.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.mtime }
func (i *fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *fileInfo) Sys() any           { return nil }

// modeOf is the fs.FileMode of a tree entry: read-only, as the tree is.
func modeOf(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o555
	default:
		return 0o444
	}
}
