package xfer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// KernelClient runs the client side over an established kernel
// connection: sends the header and hdr.Up bytes (then half-closes) while
// reading and verifying hdr.Down bytes until EOF. The deadline bounds it.
func KernelClient(c *net.TCPConn, hdr Header, deadline time.Time) error {
	defer c.Close()
	c.SetDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		var b [HeaderLen]byte
		hdr.Encode(b[:])
		_, err := c.Write(b[:])
		if err == nil {
			err = Send(c, hdr.UpSeed(), hdr.Up)
		}
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	v := NewVerifier(hdr.DownSeed(), hdr.Down)
	_, rerr := io.Copy(v, c)
	if err := <-werr; err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("receiving after %d bytes: %w", v.Got(), rerr)
	}
	return v.Err()
}

// KernelServe runs the server side over an accepted kernel connection.
func KernelServe(c *net.TCPConn, deadline time.Time) (Header, error) {
	defer c.Close()
	c.SetDeadline(deadline)
	var b [HeaderLen]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return Header{}, fmt.Errorf("reading header: %w", err)
	}
	hdr := DecodeHeader(b[:])
	werr := make(chan error, 1)
	go func() {
		err := Send(c, hdr.DownSeed(), hdr.Down)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	v := NewVerifier(hdr.UpSeed(), hdr.Up)
	_, rerr := io.Copy(v, c)
	if err := <-werr; err != nil {
		return hdr, fmt.Errorf("sending: %w", err)
	}
	if rerr != nil {
		return hdr, fmt.Errorf("receiving after %d bytes: %w", v.Got(), rerr)
	}
	return hdr, v.Err()
}

// KernelListen accepts on ln until it is closed, serving each connection
// and reporting each outcome on results.
func KernelListen(ln *net.TCPListener, deadline time.Time, results chan<- error) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				results <- fmt.Errorf("accept: %w", err)
			}
			return
		}
		go func() {
			_, err := KernelServe(c, deadline)
			results <- err
		}()
	}
}
