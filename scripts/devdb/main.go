// Command devdb runs an embedded FerretDB (MongoDB wire protocol) on its SQLite
// backend, so Latchkey starts on a fresh machine with nothing installed by hand.
// It is a development and test stand-in; production points MONGODB_URI at MongoDB.
//
//	devdb -listen 127.0.0.1:0 -dir ./data/devdb
//
// It prints "ready mongodb://HOST:PORT/" on stdout once it accepts connections,
// and exits on SIGINT/SIGTERM, or when stdin closes with -watch-stdin (so it
// never outlives the Node process that started it).
//
// Writes run one at a time: FerretDB 1.x applies update, findAndModify and delete
// as read-modify-write without a lock (measured: 50 concurrent $inc left a counter
// at 4), while MongoDB makes every single-document write atomic and Latchkey relies
// on that for failure counters and single-use links. The gate that restores it is a
// lock around write commands inside FerretDB (patches/clientconn-conn.go); it was a
// proxy in front of FerretDB, which cost every command two more socket hops.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to listen on (loopback only; port 0 picks a free one)")
	dir := flag.String("dir", "data/devdb", "directory for the SQLite files")
	watchStdin := flag.Bool("watch-stdin", false, "exit when stdin reaches EOF (parent process gone)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	// Garbage collection less often than Go's default (100): every command decodes and
	// re-encodes whole documents, so collections ran constantly and took about a tenth
	// of the database's CPU; the heap stays tens of MiB either way. GOGC overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail("bad -log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fail("bad -listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail("refusing to listen on %q: the embedded database binds to loopback only", *listen)
	}

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail("bad -dir: %v", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		fail("cannot create %s: %v", abs, err)
	}

	// synchronous(normal) in WAL mode: a commit survives the process dying but
	// not the machine losing power, and no fsync per write (writes ~25% cheaper).
	// Right for a development database; production durability is MongoDB's.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(normal)",
		Logger:    logger,
	})
	if err != nil {
		fail("cannot start FerretDB: %v", err)
	}

	// DEVDB_CPUPROFILE=<path>: a Go CPU profile (<path>.<pid>) of the database for its whole
	// life (go tool pprof), to see where its time goes under a benchmark.
	if path := os.Getenv("DEVDB_CPUPROFILE"); path != "" {
		out, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		if err != nil {
			fail("DEVDB_CPUPROFILE: %v", err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			fail("DEVDB_CPUPROFILE: %v", err)
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until FerretDB listens; a listener that fails (address in use) ends Run instead.
	listening := make(chan string, 1)
	go func() { listening <- f.MongoDBURI() }()
	var uri string
	select {
	case uri = <-listening:
	case err := <-done:
		fail("FerretDB stopped before listening on %s: %v", *listen, err)
	}
	if _, err := url.Parse(uri); err != nil {
		fail("FerretDB address: %v", err)
	}

	fmt.Printf("ready %s\n", uri)

	<-ctx.Done()
	<-done
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "devdb: "+format+"\n", args...)
	os.Exit(1)
}
