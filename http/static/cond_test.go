package static

import "testing"

func TestETagMatch(t *testing.T) {
	etag := []byte(`"abc"`)
	tests := []struct {
		list         string
		strong, weak bool // result under each comparison
	}{
		{`"abc"`, true, true},
		{`W/"abc"`, false, true},
		{`"xyz"`, false, false},
		{`"xyz", "abc"`, true, true},
		{`"xyz" ,W/"abc"`, false, true},
		{`"xyz",	"abc"`, true, true},
		{`,, "abc",`, true, true},
		{`*`, true, true},
		{` * `, true, true},
		{`"*"`, false, false},
		{`"ab"`, false, false},
		{`"abcd"`, false, false},
		{`abc`, false, false},
		{`"abc`, false, false},
		{`w/"abc"`, false, false},
		{`"xyz" "abc"`, false, false},  // missing comma: malformed from there
		{`"a b", "abc"`, false, false}, // space is not etagc
		{`"abc" junk`, true, true},     // matched before the malformed part
		{`*, "abc"`, false, false},     // "*" is only valid alone
		{``, false, false},
	}
	for _, tt := range tests {
		if got := etagMatch([]byte(tt.list), etag, true); got != tt.strong {
			t.Errorf("strong %q = %v, want %v", tt.list, got, tt.strong)
		}
		if got := etagMatch([]byte(tt.list), etag, false); got != tt.weak {
			t.Errorf("weak %q = %v, want %v", tt.list, got, tt.weak)
		}
	}
}

const (
	lm     = 1700000000 // the entry's Last-Modified
	lmText = "Tue, 14 Nov 2023 22:13:20 GMT"
	before = "Tue, 14 Nov 2023 22:13:19 GMT"
	after  = "Tue, 14 Nov 2023 22:13:21 GMT"
	nowU   = lm + 3600
)

func TestEvalPreconditions(t *testing.T) {
	etag := []byte(`"v1"`)
	b := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	tests := []struct {
		name                                 string
		ifMatch, ifUnmod, ifNoneMatch, ifMod string
		want                                 condResult
	}{
		{"none", "", "", "", "", condProceed},
		{"If-Match hit", `"v1"`, "", "", "", condProceed},
		{"If-Match star", `*`, "", "", "", condProceed},
		{"If-Match miss", `"v0"`, "", "", "", condPreconditionBad},
		{"If-Match weak never matches", `W/"v1"`, "", "", "", condPreconditionBad},
		{"If-Match malformed", `v1`, "", "", "", condPreconditionBad},
		{"IUS equal", "", lmText, "", "", condProceed},
		{"IUS later", "", after, "", "", condProceed},
		{"IUS earlier", "", before, "", "", condPreconditionBad},
		{"IUS invalid is ignored", "", "yesterday", "", "", condProceed},
		{"IUS ignored when If-Match present", `"v1"`, before, "", "", condProceed},
		{"If-Match miss wins over IUS", `"v0"`, after, "", "", condPreconditionBad},
		{"INM hit", "", "", `"v1"`, "", condNotModified},
		{"INM weak hit", "", "", `W/"v1"`, "", condNotModified},
		{"INM star", "", "", `*`, "", condNotModified},
		{"INM in list", "", "", `"a", "v1"`, "", condNotModified},
		{"INM miss", "", "", `"v0"`, "", condProceed},
		{"IMS equal", "", "", "", lmText, condNotModified},
		{"IMS later", "", "", "", after, condNotModified},
		{"IMS earlier", "", "", "", before, condProceed},
		{"IMS invalid is ignored", "", "", "", "garbage", condProceed},
		{"IMS ignored when INM present (miss)", "", "", `"v0"`, lmText, condProceed},
		{"INM hit, IMS earlier", "", "", `"v1"`, before, condNotModified},
		{"If-Match miss before INM hit", `"v0"`, "", `"v1"`, "", condPreconditionBad},
		{"If-Match hit then INM hit", `"v1"`, "", `"v1"`, "", condNotModified},
		{"IUS fail before IMS", "", before, "", after, condPreconditionBad},
		{"IUS pass then IMS", "", after, "", after, condNotModified},
		{"all four, pass then 304", `"v1"`, before, `"x", "v1"`, before, condNotModified},
		{"rfc850 IMS", "", "", "", "Tuesday, 14-Nov-23 22:13:20 GMT", condNotModified},
		{"asctime IMS earlier", "", "", "", "Tue Nov 14 22:13:19 2023", condProceed},
	}
	for _, tt := range tests {
		c := conds{ifMatch: b(tt.ifMatch), ifUnmodifiedSince: b(tt.ifUnmod), ifNoneMatch: b(tt.ifNoneMatch), ifModifiedSince: b(tt.ifMod)}
		if got := evalPreconditions(&c, etag, lm, nowU); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRangeApplies(t *testing.T) {
	etag := []byte(`"v1"`)
	tests := []struct {
		ifRange string
		now     int64
		want    bool
	}{
		{`"v1"`, nowU, true},
		{` "v1" `, nowU, true},
		{`"v0"`, nowU, false},
		{`W/"v1"`, nowU, false}, // weak tags never match in If-Range
		{`"v1", "v2"`, nowU, false},
		{lmText, nowU, true},
		{before, nowU, false}, // exact match only
		{after, nowU, false},
		{lmText, lm, false}, // Last-Modified not before Date: weak validator
		{"junk", nowU, false},
		{"", nowU, false},
	}
	for _, tt := range tests {
		if got := rangeApplies([]byte(tt.ifRange), etag, lm, tt.now); got != tt.want {
			t.Errorf("If-Range %q (now %d): got %v, want %v", tt.ifRange, tt.now, got, tt.want)
		}
	}
	if !rangeApplies(nil, etag, lm, nowU) {
		t.Error("no If-Range: range must apply")
	}
}
