package static

import "testing"

func TestCleanRequestPath(t *testing.T) {
	tests := []struct {
		p  string
		ok bool
	}{
		{"/", true},
		{"/index.html", true},
		{"/a/b/c.txt", true},
		{"/dir/", true},
		{"/.well-known/x", true}, // dot names are hidden at scan time, not here
		{"/a..b", true},
		{"/...", true},
		{"/%2e%2e/etc/passwd", true}, // double-encoded: a literal name that won't exist
		{"", false},
		{"index.html", false},
		{"/..", false},
		{"/../", false},
		{"/../../etc/passwd", false},
		{"/a/../b", false},
		{"/a/..", false},
		{"/./a", false},
		{"/a/.", false},
		{"/a/./b", false},
		{"//etc/passwd", false},
		{"/a//b", false},
		{"/a\\..\\b", false},
		{"/..\\etc", false},
		{"/a\x00.html", false},
		{"*", false},
	}
	for _, tt := range tests {
		if got := cleanRequestPath([]byte(tt.p)); got != tt.ok {
			t.Errorf("cleanRequestPath(%q) = %v, want %v", tt.p, got, tt.ok)
		}
	}
}

func TestEscapePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/docs/", "/docs/"},
		{"/a b/", "/a%20b/"},
		{"/100%/", "/100%25/"},
		{"/q?x#y/", "/q%3Fx%23y/"},
		{"/é/", "/%C3%A9/"},
		{"/a:b@c!$&'()*+,;=-._~/", "/a:b@c!$&'()*+,;=-._~/"},
	}
	for _, tt := range tests {
		if got := escapePath(tt.in); got != tt.want {
			t.Errorf("escapePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContentTypeFor(t *testing.T) {
	tests := []struct{ name, want string }{
		{"index.html", "text/html; charset=utf-8"},
		{"a/b/STYLE.CSS", "text/css; charset=utf-8"},
		{"app.js", "text/javascript; charset=utf-8"},
		{"mod.mjs", "text/javascript; charset=utf-8"},
		{"hello.txt", "text/plain; charset=utf-8"},
		{"data.json", "application/json"},
		{"logo.svg", "image/svg+xml"},
		{"p.png", "image/png"},
		{"p.jpg", "image/jpeg"},
		{"p.JPEG", "image/jpeg"},
		{"p.gif", "image/gif"},
		{"p.webp", "image/webp"},
		{"favicon.ico", "image/vnd.microsoft.icon"},
		{"feed.xml", "text/xml; charset=utf-8"},
		{"doc.pdf", "application/pdf"},
		{"m.wasm", "application/wasm"},
		{"f.woff", "font/woff"},
		{"f.woff2", "font/woff2"},
		{"v.mp4", "video/mp4"},
		{"v.webm", "video/webm"},
		{"a.zip", "application/zip"},
		{"a.tar.gz", "application/gzip"},
		{"README", defaultContentType},
		{"dot.", defaultContentType},
		{"x.unknownext", defaultContentType},
		{"x.averyveryverylongextension", defaultContentType},
		{"dir.html/file", defaultContentType},
		{".bashrc", defaultContentType},
	}
	for _, tt := range tests {
		if got := contentTypeFor(tt.name); got != tt.want {
			t.Errorf("contentTypeFor(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
