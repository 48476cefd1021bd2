package static_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardnet/shardnet/http"
	"github.com/shardnet/shardnet/http/static"
)

// Serve a directory next to dynamic routes: the static handler takes
// every path no other route claims. One Handler is shared by the Servers
// of all shards.
func Example() {
	root, _ := os.MkdirTemp("", "www")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("<h1>hi</h1>"), 0o644)

	files, err := static.New(static.Config{Root: root})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer files.Close()

	var r http.Router
	r.Handle("/plaintext", http.Plaintext)
	r.HandlePrefix("/", files.Serve)
	// for each shard: srv, _ := http.NewServer(http.Config{Router: &r}, host)

	st := files.Stats()
	fmt.Println(st.Files, "file,", st.CachedBytes, "bytes cached")
	// Output: 1 file, 11 bytes cached
}
