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
// Why a gate in front of FerretDB: FerretDB 1.x applies update, findAndModify
// and delete as read-modify-write without a lock, so two concurrent `$inc`s on
// one document can lose one, and two concurrent "consume if unused" updates can
// both succeed (measured: 50 concurrent $inc left the counter at 4). MongoDB
// makes every single-document write atomic, and Latchkey relies on that for
// failure counters and single-use links. The gate forwards every message
// unchanged but lets only one write command run at a time, which restores that
// guarantee; reads still run concurrently.
package main

import (
	"context"
	"encoding/binary"
	"errors"
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
	"sync"
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
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
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

	backendURI, err := url.Parse(f.MongoDBURI()) // blocks until FerretDB listens
	if err != nil {
		fail("FerretDB address: %v", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail("cannot listen on %s: %v", *listen, err)
	}
	g := &gate{backend: backendURI.Host, logger: logger}
	go g.serve(ctx, ln)

	fmt.Printf("ready mongodb://%s/\n", ln.Addr().String())

	<-ctx.Done()
	_ = ln.Close()
	<-done
}

// gate relays MongoDB wire messages between clients and FerretDB, one write at a time.
type gate struct {
	backend string
	logger  *slog.Logger
	writes  sync.Mutex
}

func (g *gate) serve(ctx context.Context, ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				g.logger.Error("accept", "err", err)
			}
			return
		}
		go g.relay(client)
	}
}

// writeCommands are serialized; every other command passes straight through.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true,
	"create": true, "createIndexes": true, "drop": true, "dropIndexes": true, "dropDatabase": true,
	"renameCollection": true, "collMod": true,
}

const (
	opMsg           = 2013
	flagMoreToCome  = 1 << 1
	maxMessageSize  = 48 * 1024 * 1024
	sectionBody     = 0
	sectionSequence = 1
	headerLen       = 16
)

func (g *gate) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", g.backend)
	if err != nil {
		g.logger.Error("dial FerretDB", "err", err)
		return
	}
	defer server.Close()

	for {
		req, err := readMessage(client)
		if err != nil {
			return
		}
		write := isWrite(req)
		if write {
			g.writes.Lock()
		}
		err = g.roundTrip(server, client, req)
		if write {
			g.writes.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// roundTrip forwards one request and relays its reply (or replies, while the
// server flags moreToCome). A request flagged moreToCome expects no reply.
func (g *gate) roundTrip(server, client net.Conn, req []byte) error {
	if _, err := server.Write(req); err != nil {
		return err
	}
	if opCode(req) == opMsg && msgFlags(req)&flagMoreToCome != 0 {
		return nil
	}
	for {
		reply, err := readMessage(server)
		if err != nil {
			return err
		}
		if _, err := client.Write(reply); err != nil {
			return err
		}
		if opCode(reply) != opMsg || msgFlags(reply)&flagMoreToCome == 0 {
			return nil
		}
	}
}

func readMessage(r io.Reader) ([]byte, error) {
	var header [headerLen]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	size := int(int32(binary.LittleEndian.Uint32(header[0:4])))
	if size < headerLen || size > maxMessageSize {
		return nil, fmt.Errorf("bad message length %d", size)
	}
	msg := make([]byte, size)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func opCode(msg []byte) int32 { return int32(binary.LittleEndian.Uint32(msg[12:16])) }

func msgFlags(msg []byte) uint32 {
	if len(msg) < headerLen+4 {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[16:20])
}

// isWrite reads the command name: the first key of the OP_MSG body section.
func isWrite(msg []byte) bool {
	if opCode(msg) != opMsg {
		return false
	}
	pos := headerLen + 4
	for pos < len(msg) {
		kind := msg[pos]
		pos++
		switch kind {
		case sectionBody:
			// document: int32 length, then the first element: type byte, cstring name
			name := pos + 4 + 1
			end := name
			for end < len(msg) && msg[end] != 0 {
				end++
			}
			if name >= len(msg) || end >= len(msg) {
				return false
			}
			return writeCommands[string(msg[name:end])]
		case sectionSequence:
			if pos+4 > len(msg) {
				return false
			}
			pos += int(int32(binary.LittleEndian.Uint32(msg[pos : pos+4])))
		default:
			return false
		}
	}
	return false
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "devdb: "+format+"\n", args...)
	os.Exit(1)
}
