package http

import (
	"bufio"
	"bytes"
	"io"
	nethttp "net/http"
	"net/textproto"
	"slices"
	"testing"
)

// captured is the first request a handler saw, copied.
type captured struct {
	ok                   bool
	method, target, path string
	body                 string
	minor                int
	names, values        []string
}

func fuzzServer(t *testing.T, got *captured) (*Server, *fakeHost) {
	return newTestServer(t, func(c *Ctx) {
		if !got.ok {
			got.ok = true
			got.method, got.target, got.path = string(c.Method()), string(c.Target()), string(c.Path())
			got.body, got.minor = string(c.Body()), c.ProtoMinor()
			for i := 0; i < c.NumHeaders(); i++ {
				n, v := c.HeaderAt(i)
				got.names = append(got.names, string(n))
				got.values = append(got.values, string(v))
			}
		}
		c.WriteString("ok")
	}, nil)
}

// FuzzParseRequest feeds arbitrary bytes to a server, whole and split,
// and, where net/http.ReadRequest also accepts the first request, checks
// that both read the same method, target, path, headers and body.
func FuzzParseRequest(f *testing.F) {
	for _, tc := range goodRequests {
		f.Add([]byte(tc.raw), uint16(7))
	}
	for _, tc := range badRequests {
		if len(tc.raw) < 2000 {
			f.Add([]byte(tc.raw), uint16(3))
		}
	}
	f.Add([]byte(plaintextReq+plaintextReq), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		var mine captured
		s, host := fuzzServer(t, &mine)
		c := newFakeConn(t, s, host)
		c.sendBytes(data)
		whole := stripContinue(c.take())

		// The same bytes in two pieces must give the same output.
		var again captured
		s2, host2 := fuzzServer(t, &again)
		c2 := newFakeConn(t, s2, host2)
		k := int(split) % (len(data) + 1)
		c2.sendBytes(data[:k])
		c2.sendBytes(data[k:])
		if split := stripContinue(c2.take()); !bytes.Equal(whole, split) {
			t.Fatalf("split at %d changes the output:\n%q\n%q", k, trunc(whole), trunc(split))
		}

		req, err := nethttp.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil || !mine.ok {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if req.Method != mine.method || req.RequestURI != mine.target {
			t.Fatalf("request-line: net/http %q %q, mine %q %q", req.Method, req.RequestURI, mine.method, mine.target)
		}
		if mine.target != "*" && req.URL.Path != mine.path {
			t.Fatalf("path: net/http %q, mine %q", req.URL.Path, mine.path)
		}
		if min(req.ProtoMinor, 1) != mine.minor || req.ProtoMajor != 1 {
			t.Fatalf("version: net/http %d.%d, mine 1.%d", req.ProtoMajor, req.ProtoMinor, mine.minor)
		}
		if string(body) != mine.body {
			t.Fatalf("body: net/http %q, mine %q", body, mine.body)
		}
		byName := map[string][]string{}
		for i, n := range mine.names {
			cn := textproto.CanonicalMIMEHeaderKey(n)
			byName[cn] = append(byName[cn], mine.values[i])
		}
		for name, vals := range byName {
			switch name {
			case "Host":
				if req.Host != vals[0] {
					t.Fatalf("Host: net/http %q, mine %q", req.Host, vals[0])
				}
			case "Transfer-Encoding": // net/http moves it to req.TransferEncoding
			case "Content-Length": // net/http folds identical repeats into one
				if len(req.Header[name]) != 1 || req.Header[name][0] != vals[0] {
					t.Fatalf("Content-Length: net/http %q, mine %q", req.Header[name], vals)
				}
			default:
				if !slices.Equal(req.Header[name], vals) {
					t.Fatalf("%s: net/http %q, mine %q", name, req.Header[name], vals)
				}
			}
		}
	})
}
