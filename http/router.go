package http

import "sort"

// Router dispatches on Ctx.Path (the decoded path): an exact route first,
// then the longest matching prefix route, then NotFound (404 if nil).
// Register every route before the servers start; afterwards the Router is
// only read, and one Router may be shared by the Servers of all shards.
type Router struct {
	exact  map[string]HandlerFunc
	prefix []prefixRoute // longest first

	// NotFound answers paths no route matches; nil means Error(404).
	NotFound HandlerFunc
}

type prefixRoute struct {
	p string
	h HandlerFunc
}

// Handle routes requests whose path is exactly path to h.
func (r *Router) Handle(path string, h HandlerFunc) {
	if r.exact == nil {
		r.exact = make(map[string]HandlerFunc)
	}
	r.exact[path] = h
}

// HandlePrefix routes requests whose path starts with prefix to h, unless
// an exact route or a longer prefix matches. Registering a prefix again
// replaces its handler.
func (r *Router) HandlePrefix(prefix string, h HandlerFunc) {
	for i := range r.prefix {
		if r.prefix[i].p == prefix {
			r.prefix[i].h = h
			return
		}
	}
	r.prefix = append(r.prefix, prefixRoute{prefix, h})
	sort.SliceStable(r.prefix, func(i, j int) bool { return len(r.prefix[i].p) > len(r.prefix[j].p) })
}

// Serve is the Router as a HandlerFunc.
func (r *Router) Serve(c *Ctx) {
	p := c.Path()
	if h, ok := r.exact[string(p)]; ok {
		h(c)
		return
	}
	for i := range r.prefix {
		e := &r.prefix[i]
		if len(p) >= len(e.p) && string(p[:len(e.p)]) == e.p {
			e.h(c)
			return
		}
	}
	if r.NotFound != nil {
		r.NotFound(c)
		return
	}
	c.Error(404)
}

// Plaintext is the TechEmpower plaintext handler: "Hello, World!" as
// text/plain, built per request (the server adds Server, Date and
// Content-Length) with no allocation.
func Plaintext(c *Ctx) {
	c.SetContentType("text/plain")
	c.WriteString("Hello, World!")
}
