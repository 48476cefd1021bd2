package http

// ParseError names why a request was rejected before any handler ran. Each
// kind maps to one status code (Status) and one counter in Stats.
type ParseError uint8

const (
	ErrNone             ParseError = iota
	ErrBareLF                      // a line ended in LF without CR (400)
	ErrBadRequestLine              // request-line not "method SP target SP version CRLF" (400)
	ErrBadMethod                   // method is not a token (400)
	ErrBadTarget                   // target not origin-form (or "*" with OPTIONS), or a byte outside RFC 3986 (400)
	ErrURITooLong                  // request-target longer than MaxURILen (414)
	ErrBadVersion                  // version is not HTTP/DIGIT.DIGIT (400)
	ErrVersion                     // HTTP major version other than 1 (505)
	ErrHeaderTooLarge              // header section larger than MaxHeaderBytes (431)
	ErrTooManyHeaders              // more than maxFields field lines (431)
	ErrBadFieldName                // field-name empty or not a token (400)
	ErrSpaceBeforeColon            // whitespace between field-name and colon (400)
	ErrObsFold                     // obsolete line folding (400)
	ErrBadFieldValue               // a control character in a field value (400)
	ErrHost                        // Host missing (HTTP/1.1), duplicated or malformed (400)
	ErrContentLength               // Content-Length is not 1*DIGIT (400)
	ErrDupContentLength            // two differing Content-Length values (400)
	ErrCLAndTE                     // both Content-Length and Transfer-Encoding (400)
	ErrTEUnsupported               // a transfer coding other than chunked (501)
	ErrTEBad                       // empty Transfer-Encoding, chunked twice, or Transfer-Encoding in HTTP/1.0 (400)
	ErrBodyTooLarge                // body larger than MaxBodyBytes (413)
	ErrBadChunk                    // malformed chunk-size line, chunk-ext or chunk-data CRLF (400)
	ErrTrailerTooLarge             // trailer section larger than MaxHeaderBytes (431)
	ErrExpectation                 // Expect other than 100-continue (417)
	ErrBadPath                     // malformed or NUL %-escape in the path (400)
	numParseErrors
)

var parseErrorNames = [numParseErrors]string{
	"none", "bare-lf", "bad-request-line", "bad-method", "bad-target",
	"uri-too-long", "bad-version", "version-not-supported",
	"header-too-large", "too-many-headers", "bad-field-name",
	"space-before-colon", "obs-fold", "bad-field-value", "host",
	"content-length", "dup-content-length", "cl-and-te",
	"te-unsupported", "te-bad", "body-too-large", "bad-chunk",
	"trailer-too-large", "expectation", "bad-path",
}

var parseErrorStatus = [numParseErrors]uint16{
	0, 400, 400, 400, 400,
	414, 400, 505,
	431, 431, 400,
	400, 400, 400, 400,
	400, 400, 400,
	501, 400, 413, 400,
	431, 417, 400,
}

func (e ParseError) String() string {
	if e < numParseErrors {
		return parseErrorNames[e]
	}
	return "unknown"
}

// Status is the response status a request rejected for e gets.
func (e ParseError) Status() int {
	if e < numParseErrors {
		return int(parseErrorStatus[e])
	}
	return 400
}

// Stats are one Server's counters. They belong to the Server's shard:
// read them there (Server.Stats copies them).
type Stats struct {
	ConnsOpened uint64
	ConnsClosed uint64
	ConnsActive int

	Requests uint64    // requests that reached a handler
	Status   [6]uint64 // responses by class: Status[2] counts 2xx (index 0 holds invalid codes)

	ParseErrors [numParseErrors]uint64 // rejected requests by ParseError (index 0 unused)

	HeaderTimeouts uint64 // request head not complete within HeaderTimeout
	IdleTimeouts   uint64 // no request within IdleTimeout
	BodyTimeouts   uint64 // body made no progress within IdleTimeout
	WriteTimeouts  uint64 // output made no progress within IdleTimeout
	LingerAborts   uint64 // a closing connection reset after LingerTimeout

	Continues       uint64 // 100 Continue responses sent
	PipelinedMax    int    // most requests answered in one OnData batch
	Paused          uint64 // times input was left unconsumed for back-pressure
	FileErrors      uint64 // SetBodyFile reads that failed or came up short (connection aborted)
	FileReads       uint64 // SetBodyFile chunks read off the shard (Config.FileInbox)
	FileReadWaits   uint64 // times a connection waited for a free file chunk buffer
	BadHeaderValues uint64 // SetHeader calls dropped for CR, LF or a non-token name
	IncompleteAtEOF uint64 // peer closed in the middle of a request
}
