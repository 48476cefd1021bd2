package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one contender: how to start it and where to reach it.
type server struct {
	Name string
	Host string // address the client connects to
	argv []string
	env  []string
	conf func(dir string) error // writes a config file before start (nginx)
	// broken, when set, is why the server cannot run (its build failed):
	// every measurement of it is recorded as failed with this text.
	broken string
}

// binaries are the built servers; a non-empty *Err says why one is missing.
type binaries struct {
	httpd, nethttp, fasthttp          string
	httpdErr, nethttpErr, fasthttpErr string
}

// buildServers builds shardnet's httpd (main module; or takes the prebuilt
// one given by -httpd) and the reference servers (this module) into work.
// A failed build is not fatal: the servers it affects are reported failed.
func buildServers(repo, work, prebuilt string) binaries {
	b := binaries{
		httpd:    filepath.Join(work, "httpd"),
		nethttp:  filepath.Join(work, "nethttp"),
		fasthttp: filepath.Join(work, "fasthttp"),
	}
	if prebuilt != "" {
		b.httpd = prebuilt
	}
	build := func(dir, out, pkg string) string {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = dir
		if o, err := cmd.CombinedOutput(); err != nil {
			msg := fmt.Sprintf("building %s: %v: %s", pkg, err, tail(string(o), 600))
			fmt.Fprintln(os.Stderr, "bench:", msg)
			return msg
		}
		return ""
	}
	if prebuilt == "" {
		b.httpdErr = build(repo, b.httpd, "./examples/httpd")
	}
	b.nethttpErr = build(filepath.Join(repo, "perf"), b.nethttp, "./servers/nethttp")
	b.fasthttpErr = build(filepath.Join(repo, "perf"), b.fasthttp, "./servers/fasthttp")
	return b
}

// makeSite writes the files every server serves.
func makeSite(www string) error {
	if err := os.MkdirAll(www, 0o755); err != nil {
		return err
	}
	files := map[string]int{"1k.bin": 1 << 10, "100k.bin": 100 << 10, "256m.bin": 256 << 20}
	for name, size := range files {
		b := make([]byte, size)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(www, name), b, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(www, "index.html"), []byte("<!doctype html><title>bench</title><p>shardnet bench\n"), 0o644)
}

func allServers(b binaries, www string, t *topology, o *options) []server {
	n := strconv.Itoa(o.shards)
	cpus := o.serverCPU
	httpd := func(extra ...string) []string {
		return inNS(t.srv, cpus, append([]string{b.httpd, "-root", www, "-port", port, "-shards", n, "-cpus", cpus, "-log-level", "warn"}, extra...)...)
	}
	gomax := "GOMAXPROCS=" + n
	return []server{
		{Name: "shardnet-afxdp", Host: afxdpIP, argv: httpd("-driver", "afxdp", "-iface", t.srvIf, "-addr", afxdpIP+"/24"), broken: b.httpdErr},
		{Name: "shardnet-tap", Host: tapStackIP, argv: httpd("-driver", "tap", "-iface", "shb0", "-addr", tapStackIP+"/16", "-host-addr", tapHostIP+"/16"), broken: b.httpdErr},
		{Name: "shardnet-kernel", Host: kernelIP, argv: httpd("-driver", "kernel", "-addr", kernelIP), broken: b.httpdErr},
		{Name: "nethttp", Host: kernelIP, argv: inNS(t.srv, cpus, b.nethttp, "-addr", kernelIP+":"+port, "-root", www), env: []string{gomax}, broken: b.nethttpErr},
		{Name: "fasthttp", Host: kernelIP, argv: inNS(t.srv, cpus, b.fasthttp, "-addr", kernelIP+":"+port, "-root", www), env: []string{gomax}, broken: b.fasthttpErr},
		{Name: "nginx", Host: kernelIP, conf: nginxConf(www, o.shards), argv: nil},
	}
}

// nginxConf writes an nginx.conf: one worker per shard, sendfile, no
// access log, /plaintext answered from the config.
func nginxConf(www string, workers int) func(dir string) error {
	return func(dir string) error {
		aff := make([]string, workers)
		for i := range aff {
			aff[i] = strings.Repeat("0", workers-1-i) + "1" + strings.Repeat("0", i)
		}
		conf := fmt.Sprintf(`worker_processes %d;
worker_cpu_affinity %s;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
    types { text/html html; application/octet-stream bin; }
    server {
        listen %s:%s reuseport;
        root %s;
        location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    }
}
`, workers, strings.Join(aff, " "), dir, dir, dir, dir, dir, dir, dir, kernelIP, port, www)
		return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	}
}

// running is a started server.
type running struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	dir    string
}

func (s *server) start(t *topology, o *options) (*running, error) {
	if s.broken != "" {
		return nil, fmt.Errorf("%s", s.broken)
	}
	dir, err := os.MkdirTemp("", "snb-"+s.Name+"-")
	if err != nil {
		return nil, err
	}
	argv := s.argv
	if s.conf != nil {
		if err := s.conf(dir); err != nil {
			return nil, err
		}
		argv = inNS(t.srv, o.serverCPU, "nginx", "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	}
	r := &running{stderr: &bytes.Buffer{}, dir: dir}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Env = append(os.Environ(), s.env...)
	r.cmd.Stdout, r.cmd.Stderr = r.stderr, r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Ready when /plaintext answers from the client namespace.
	url := "http://" + s.Host + ":" + port + "/plaintext"
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("ip", "netns", "exec", t.cli, "curl", "-s", "-m", "1", url).Output()
		if err == nil && string(out) == "Hello, World!" {
			return r, nil
		}
		if time.Now().After(deadline) || r.exited() {
			r.stop()
			return nil, fmt.Errorf("%s did not answer %s: %s", s.Name, url, tail(r.stderr.String(), 600))
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
}

func (r *running) exited() bool {
	return r.cmd.ProcessState != nil || syscall.Kill(r.cmd.Process.Pid, 0) != nil
}

// stop sends SIGTERM to the server's process group, waits up to 15 s (the
// shardnet servers drain), then kills it.
func (r *running) stop() {
	defer os.RemoveAll(r.dir)
	pgid := r.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// cpuTicks is the utime+stime of the server's process group (nginx has
// workers), in clock ticks.
func (r *running) cpuTicks() int64 {
	pgid := r.cmd.Process.Pid
	var total int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" of comm: state(3) ppid(4) pgrp(5) … utime(14) stime(15).
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		if pg, _ := strconv.Atoi(f[2]); pg != pgid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return total
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
