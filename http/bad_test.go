package http

import (
	"strings"
	"testing"
)

var badRequests = []struct {
	name   string
	raw    string
	status int
	kind   ParseError
}{
	// Request smuggling (RFC 9112 §6.1, §6.3).
	{"smuggle CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ErrCLAndTE},
	{"smuggle TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400, ErrCLAndTE},
	{"smuggle two CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, ErrDupContentLength},
	{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400, ErrContentLength},
	{"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400, ErrContentLength},
	{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 400, ErrContentLength},
	{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, ErrContentLength},
	{"CL huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, ErrBodyTooLarge},
	{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ErrTEUnsupported},
	{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, ErrTEUnsupported},
	{"TE chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501, ErrTEUnsupported},
	{"TE chunked not last, two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n", 501, ErrTEUnsupported},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, ErrTEBad},
	{"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400, ErrTEBad},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ErrTEBad},
	{"TE with space in value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n", 501, ErrTEUnsupported},

	// Chunked bodies (RFC 9112 §7.1).
	{"chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, ErrBadChunk},
	{"chunk size empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400, ErrBadChunk},
	{"chunk size negative", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400, ErrBadChunk},
	{"chunk size 0x", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk size leading space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk size trailing space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk size bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, ErrBareLF},
	{"chunk data no CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk data LF only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk ext no name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk ext bad quote", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"chunk ext no value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n", 400, ErrBadChunk},
	{"oversize chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413, ErrBodyTooLarge},
	{"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 413, ErrBodyTooLarge},
	{"chunks over the limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n" + strings.Repeat("a", 0x8000) + "\r\n8000\r\n" + strings.Repeat("a", 0x8000) + "\r\n1\r\n", 413, ErrBodyTooLarge},
	{"chunk line too long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("a", 5000), 400, ErrBadChunk},
	{"trailer obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n  2\r\n\r\n", 400, ErrObsFold},
	{"trailer bad name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA(B: 1\r\n\r\n", 400, ErrBadFieldName},
	{"trailer too large", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: " + strings.Repeat("b", 9000), 431, ErrTrailerTooLarge},

	// Request-line (RFC 9112 §3).
	{"bare LF request-line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, ErrBareLF},
	{"bare LF header", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, ErrBareLF},
	{"bare LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, ErrBareLF},
	{"bare LF first byte", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadRequestLine},
	{"bare CR in target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadRequestLine},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadRequestLine},
	{"space before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadMethod},
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400, ErrBadRequestLine},
	{"method not token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadMethod},
	{"method too long", strings.Repeat("A", 40) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadMethod},
	{"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, ErrBadMethod},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, ErrVersion},
	{"HTTP/3", "GET / HTTP/3\r\nHost: a\r\n\r\n", 505, ErrVersion},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505, ErrVersion},
	{"HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"HTTP/11.1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"version too long", "GET / HTTP/1.1.1.1.1.1\r\nHost: a\r\n\r\n", 400, ErrBadVersion},
	{"absolute-form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"authority-form", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"quote in target", "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadTarget},
	{"target too long", "GET /" + strings.Repeat("a", 4100) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, ErrURITooLong},
	{"target too long, no end", "GET /" + strings.Repeat("a", 4100), 414, ErrURITooLong},
	{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadPath},
	{"short escape", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadPath},
	{"NUL escape", "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400, ErrBadPath},

	// Field lines (RFC 9112 §5, RFC 9110 §5).
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, ErrObsFold},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400, ErrObsFold},
	{"first line folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, ErrObsFold},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, ErrSpaceBeforeColon},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, ErrSpaceBeforeColon},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, ErrBadFieldName},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, ErrBadFieldName},
	{"bad name char", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", 400, ErrBadFieldName},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, ErrBadFieldValue},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, ErrBadFieldValue},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400, ErrBadFieldValue},
	{"missing Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400, ErrHost},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, ErrHost},
	{"two Hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, ErrHost},
	{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, ErrHost},
	{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, ErrHost},
	{"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 9000) + "\r\n\r\n", 431, ErrHeaderTooLarge},
	{"header too large, no end", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 9000), 431, ErrHeaderTooLarge},
	{"too many headers", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 101) + "\r\n", 431, ErrTooManyHeaders},

	// Bodies and expectations.
	{"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413, ErrBodyTooLarge},
	{"expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417, ErrExpectation},
	{"expect 100 body too large", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n", 413, ErrBodyTooLarge},
}

func TestBadRequests(t *testing.T) {
	for _, tc := range badRequests {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{len(tc.raw), 1} {
				called := false
				s, host := newTestServer(t, func(c *Ctx) { called = true; Plaintext(c) }, nil)
				f := newFakeConn(t, s, host)
				// A good request first: the error must follow its
				// response, in order, on the same connection.
				f.sendEach("GET /first HTTP/1.1\r\nHost: a\r\n\r\n"+tc.raw, step)
				if !called {
					t.Fatalf("step %d: the good request before was not served", step)
				}
				rs := parseResponses(t, f.take())
				if len(rs) != 2 {
					t.Fatalf("step %d: %d responses", step, len(rs))
				}
				r := rs[1]
				if r.status != tc.status || !r.close || r.body != StatusText(tc.status)+"\n" {
					t.Fatalf("step %d: got %d close=%v body=%q, want %d with Connection: close", step, r.status, r.close, r.body, tc.status)
				}
				if st := s.Stats(); st.ParseErrors[tc.kind] != 1 || st.Requests != 1 {
					t.Fatalf("step %d: want one %v; stats %+v", step, tc.kind, st)
				}
				if !f.closed {
					t.Fatalf("step %d: connection not closed", step)
				}
				if f.pendingRecv() != 0 {
					t.Fatalf("step %d: %d bytes not consumed after the error", step, f.pendingRecv())
				}
			}
		})
	}
}

// TestEveryParseErrorTested makes sure the table above covers every kind.
func TestEveryParseErrorTested(t *testing.T) {
	var seen [numParseErrors]bool
	for _, tc := range badRequests {
		seen[tc.kind] = true
		if tc.kind.Status() != tc.status {
			t.Errorf("%s: %v maps to %d, table says %d", tc.name, tc.kind, tc.kind.Status(), tc.status)
		}
	}
	for k := ParseError(1); k < numParseErrors; k++ {
		if !seen[k] {
			t.Errorf("no bad request exercises %v", k)
		}
	}
}
