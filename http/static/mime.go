package static

// contentTypes maps a lower-case file extension (without the dot) to its
// Content-Type. It is fixed in code on purpose: the host's
// /etc/mime.types differs between machines, and the same tree must be
// served the same way everywhere. Text types carry "; charset=utf-8".
var contentTypes = map[string]string{
	// text
	"html":        "text/html; charset=utf-8",
	"htm":         "text/html; charset=utf-8",
	"css":         "text/css; charset=utf-8",
	"js":          "text/javascript; charset=utf-8",
	"mjs":         "text/javascript; charset=utf-8",
	"txt":         "text/plain; charset=utf-8",
	"text":        "text/plain; charset=utf-8",
	"md":          "text/markdown; charset=utf-8",
	"csv":         "text/csv; charset=utf-8",
	"xml":         "text/xml; charset=utf-8",
	"json":        "application/json",
	"map":         "application/json",
	"webmanifest": "application/manifest+json",
	"svg":         "image/svg+xml",
	// images
	"png":  "image/png",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
	"avif": "image/avif",
	"ico":  "image/vnd.microsoft.icon",
	"bmp":  "image/bmp",
	// fonts
	"woff":  "font/woff",
	"woff2": "font/woff2",
	"ttf":   "font/ttf",
	"otf":   "font/otf",
	// audio and video
	"mp4":  "video/mp4",
	"webm": "video/webm",
	"ogg":  "audio/ogg",
	"mp3":  "audio/mpeg",
	"wav":  "audio/wav",
	// applications and archives
	"wasm": "application/wasm",
	"pdf":  "application/pdf",
	"zip":  "application/zip",
	"gz":   "application/gzip",
	"tgz":  "application/gzip",
	"tar":  "application/x-tar",
	"bz2":  "application/x-bzip2",
	"xz":   "application/x-xz",
	"zst":  "application/zstd",
	"bin":  "application/octet-stream",
}

// defaultContentType is sent for unknown extensions.
const defaultContentType = "application/octet-stream"

// contentTypeFor returns the Content-Type for a file name, from its
// extension, case-insensitively.
func contentTypeFor(name string) string {
	dot := -1
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 || dot == len(name)-1 {
		return defaultContentType
	}
	var lower [16]byte
	ext := name[dot+1:]
	if len(ext) > len(lower) {
		return defaultContentType
	}
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	if ct, ok := contentTypes[string(lower[:len(ext)])]; ok {
		return ct
	}
	return defaultContentType
}
