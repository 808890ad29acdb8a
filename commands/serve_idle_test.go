package commands

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Idle keep-alive connections are closed after a while.
func TestServeClosesIdleConnections(t *testing.T) {
	p := newTestPKI(t)
	ts, err := newTestServer(t, serveOptions{dir: p.dir, caPath: p.caFile})
	if err != nil {
		t.Fatal(err)
	}
	if d := ts.srv.http.IdleTimeout; d <= 0 || d > 5*time.Minute {
		t.Fatalf("IdleTimeout = %v: idle keep-alive connections are held forever", d)
	}
	ts.srv.http.IdleTimeout = 200 * time.Millisecond // the same mechanism, quicker
	ts.start()
	defer ts.stop(t)
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest("GET", "https://"+ts.addr+"/", nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the idle connection is still open after 3 s: %v", err)
	}
}
