package static

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ident is what a rescan compares to decide that a file is unchanged.
// It is taken with stat (symlinks followed), so a retargeted symlink or
// a file replaced by rename shows up as a different inode.
type ident struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // ns
}

func identOf(fi fs.FileInfo) (ident, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ident{}, false
	}
	return ident{
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}, true
}

// entry is one servable file (or one directory redirect), immutable once
// published in a snapshot: every shard may read it at any time without a
// lock. The byte slices are pre-rendered header values, so serving
// allocates nothing.
type entry struct {
	rel  string // path under the root, '/'-separated; "" for a redirect
	id   ident
	size int64

	lastMod int64    // unix seconds sent as Last-Modified (never in the future)
	cached  bool     // the body is data (an empty file is cached, with data nil)
	data    []byte   // the body when cached
	file    *os.File // the body when not cached (nil for an empty file)

	contentType   string
	etag          []byte // `"size-mtime-hash"`
	lastModified  []byte // IMF-fixdate
	unsatisfiable []byte // "bytes */size", the Content-Range of a 416

	location []byte // redirects only: "/dir/", percent-encoded
}

func (e *entry) isRedirect() bool { return e.location != nil }

// snapshot is one published view of the root: a map from cleaned URL path
// to entry, swapped whole by the scanner and only read by shards.
type snapshot struct {
	paths map[string]*entry
	files []*entry // the distinct file entries, in walk order
	stats ScanStats
}

// ScanStats describes the snapshot being served.
type ScanStats struct {
	Files           int   // servable files
	CachedFiles     int   // of which served from memory
	CachedBytes     int64 // their total size (≤ MaxCacheBytes)
	DiskFiles       int   // of which streamed from an open file
	SymlinksOutside int   // symlinks dropped: target outside Root
	Hidden          int   // names starting with '.' (files and directories) not served
	Skipped         int   // not regular files, symlinked directories, broken or unreadable entries, names with '\'
}

// candidate is a file found by the walk, before its entry is built.
type candidate struct {
	rel string
	id  ident
}

// scan walks the root and returns a new snapshot, reusing prev's entries
// for files whose ident (and cached-or-not decision) is unchanged. changed
// is false when the result would be identical to prev; then nothing new
// was opened and prev stays. retired lists prev's open files that the new
// snapshot no longer uses.
func (h *Handler) scan(prev *snapshot, now time.Time) (next *snapshot, changed bool, retired []*os.File, err error) {
	root, err := os.OpenRoot(h.root)
	if err != nil {
		return nil, false, nil, fmt.Errorf("static: open root: %w", err)
	}
	defer root.Close()

	var st ScanStats
	var cands []candidate
	werr := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			st.Skipped++
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		name := d.Name()
		if !h.cfg.Dotfiles && strings.HasPrefix(name, ".") {
			st.Hidden++
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if strings.ContainsRune(name, '\\') {
			st.Skipped++
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(filepath.Join(h.root, filepath.FromSlash(p)))
			if err != nil {
				st.Skipped++ // broken or looping
				return nil
			}
			if !within(h.root, target) {
				st.SymlinksOutside++
				return nil
			}
			if !h.cfg.Dotfiles && hiddenPath(h.root, target) {
				st.Hidden++ // a visible name must not expose a hidden file
				return nil
			}
		case !t.IsRegular():
			st.Skipped++ // device, socket, pipe
			return nil
		}
		// Stat through the os.Root: it follows symlinks only inside the
		// root, so a link swapped after EvalSymlinks still cannot escape.
		fi, err := root.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			st.Skipped++ // symlinked directory, vanished, or outside
			return nil
		}
		id, ok := identOf(fi)
		if !ok {
			st.Skipped++
			return nil
		}
		cands = append(cands, candidate{rel: p, id: id})
		return nil
	})
	if werr != nil {
		return nil, false, nil, fmt.Errorf("static: walk %s: %w", h.root, werr)
	}

	var old map[string]*entry
	if prev != nil {
		old = make(map[string]*entry, len(prev.files))
		for _, e := range prev.files {
			old[e.rel] = e
		}
	}
	budget := h.cfg.MaxCacheBytes
	var opened []*os.File // files opened by this scan, closed if unused
	files := make([]*entry, 0, len(cands))
	reused := 0
	for _, c := range cands {
		cache := c.id.size <= h.cfg.MaxCachedFile && c.id.size <= budget
		if e := old[c.rel]; e != nil && e.id == c.id && e.cached == cache {
			files = append(files, e)
			reused++
			if cache {
				budget -= e.size
			}
			continue
		}
		e, err := h.load(root, c.rel, cache, now)
		if err != nil {
			st.Skipped++
			continue
		}
		if e.file != nil {
			opened = append(opened, e.file)
		}
		if e.cached {
			budget -= e.size
		}
		files = append(files, e)
	}
	if prev != nil && reused == len(files) && reused == len(prev.files) && st == prev.stats.scanOnly() {
		for _, f := range opened {
			f.Close()
		}
		return prev, false, nil, nil
	}

	next = &snapshot{paths: make(map[string]*entry, len(files)*2), files: files, stats: st}
	for _, e := range files {
		next.paths["/"+e.rel] = e
		if path.Base(e.rel) == h.cfg.Index {
			if dir := path.Dir(e.rel); dir == "." {
				next.paths["/"] = e
			} else {
				next.paths["/"+dir+"/"] = e
				next.paths["/"+dir] = &entry{location: []byte(escapePath("/" + dir + "/"))}
			}
		}
		next.stats.Files++
		if e.cached {
			next.stats.CachedFiles++
			next.stats.CachedBytes += e.size
		} else {
			next.stats.DiskFiles++
		}
	}
	if prev != nil {
		keep := make(map[*os.File]bool, len(files))
		for _, e := range files {
			if e.file != nil {
				keep[e.file] = true
			}
		}
		for _, e := range prev.files {
			if e.file != nil && !keep[e.file] {
				retired = append(retired, e.file)
			}
		}
	}
	return next, true, retired, nil
}

// scanOnly is the part of the stats that the walk itself produces, for
// comparing one walk with the last.
func (s ScanStats) scanOnly() ScanStats {
	return ScanStats{SymlinksOutside: s.SymlinksOutside, Hidden: s.Hidden, Skipped: s.Skipped}
}

// load opens rel through the os.Root, reads it into memory when cache is
// set (and closes it), or keeps it open for streaming, and renders its
// header values. The ident comes from the open file itself.
func (h *Handler) load(root *os.Root, rel string, cache bool, now time.Time) (*entry, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	id, ok := identOf(fi)
	if !ok {
		return nil, errNotRegular
	}
	e := &entry{rel: rel, id: id, size: id.size, contentType: contentTypeFor(rel)}
	sum := sha256.New()
	if cache {
		e.data = make([]byte, id.size)
		if _, err := io.ReadFull(io.NewSectionReader(f, 0, id.size), e.data); err != nil {
			return nil, err // shrank while read: the next scan sees it
		}
		sum.Write(e.data)
		e.cached = true
	} else {
		if _, err := io.Copy(sum, io.NewSectionReader(f, 0, id.size)); err != nil {
			return nil, err
		}
		if id.size > 0 {
			e.file = f
			keep = true
		}
	}
	var h8 [sha256.Size]byte
	sum.Sum(h8[:0])
	e.etag = []byte(`"` + strconv.FormatInt(id.size, 16) + "-" + strconv.FormatInt(id.mtime, 16) +
		"-" + hex.EncodeToString(h8[:8]) + `"`)
	// RFC 9110 §8.8.2.1: never send a Last-Modified later than the Date.
	e.lastMod = id.mtime / 1e9
	if n := now.Unix(); e.lastMod > n {
		e.lastMod = n
	}
	e.lastModified = []byte(formatHTTPDate(e.lastMod))
	e.unsatisfiable = []byte("bytes */" + strconv.FormatInt(id.size, 10))
	return e, nil
}

// hiddenPath reports whether target, below root, has a path element
// starting with '.'.
func hiddenPath(root, target string) bool {
	rel, err := filepath.Rel(root, target)
	if err != nil {
		return true
	}
	for _, el := range strings.Split(filepath.ToSlash(rel), "/") {
		if strings.HasPrefix(el, ".") && el != "." {
			return true
		}
	}
	return false
}

var errNotRegular = errors.New("static: not a regular file")

// within reports whether target (absolute and clean, symlinks resolved)
// is root or below it.
func within(root, target string) bool {
	rel, err := filepath.Rel(root, target)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
