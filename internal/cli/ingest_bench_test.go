package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/config"
	"sendops/internal/domain"
	"sendops/internal/loadgen"
	"sendops/internal/service"
	"sendops/internal/testutil/testdb"
)

// BenchmarkIngest runs the whole server in this process and loadgen against
// it, b.N events at the fastest rate at 128 requests in flight (override
// with SENDOPS_BENCH_CONCURRENCY), and reports acknowledged events per
// second. SENDOPS_BENCH_HEAPPROFILE=FILE writes the heap profile taken
// before the server stops. The server's goroutines carry the profiler label side=server, so
// that a CPU profile can be cut to the server alone:
//
//	go test ./internal/cli -run '^$' -bench 'Ingest/sqlite' -benchtime 60000x -cpuprofile cpu.out
//	go tool pprof -tagfocus side=server -top cpu.out
func BenchmarkIngest(b *testing.B) {
	testdb.EachBench(b, func(b *testing.B, _ string, newDSN func(testing.TB) string) { benchIngest(b, newDSN(b)) })
}

func benchIngest(b *testing.B, dsn string) {
	ctx := context.Background()
	vars := map[string]string{"SENDOPS_DB": dsn, "SENDOPS_SECRET_KEY": crashSecretKey, "SENDOPS_LOG_LEVEL": "warn"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	vars["SENDOPS_ADDR"] = ln.Addr().String()
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, true)
	if err != nil {
		b.Fatal(err)
	}
	var logs bytes.Buffer
	p := &cli.Program{Config: cfg, LogOutput: &logs, Listener: ln}
	// Goroutines inherit labels: those Open starts (the HTTP server and its
	// connections, the ingest writer, the pools) are the server's.
	pprof.Do(ctx, pprof.Labels("side", "server"), func(ctx context.Context) { err = p.Open(ctx) })
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()

	_, org, err := p.Service.CreateUser(ctx, service.SignUp{Name: "Bench", Email: "bench@example.com", Password: "correct horse battery staple", OrgName: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	actor := service.SystemActor(org.ID)
	_, key, err := p.Service.CreateAPIKey(ctx, actor, "bench", []domain.Scope{domain.ScopeRead, domain.ScopeRecipientsRead})
	if err != nil {
		b.Fatal(err)
	}
	_, cr, err := p.Service.CreateConnection(ctx, actor, service.ConnectionInput{Name: "bench", AWSAccountID: "123456789012", Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	conc := 128
	if v, err := strconv.Atoi(os.Getenv("SENDOPS_BENCH_CONCURRENCY")); err == nil && v > 0 {
		conc = v
	}
	// Messages average three events; send about b.N.
	r, err := loadgen.New(loadgen.Config{URL: cr.EventBridgeURL, Header: cr.HeaderName, Secret: cr.Secret, APIKey: key,
		Concurrency: conc, Messages: max(1, b.N/3), Duration: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	written := procWriteBytes()
	b.ResetTimer()
	rep, err := r.Run(ctx)
	b.StopTimer()
	written = procWriteBytes() - written
	if err != nil {
		b.Fatal(err)
	}
	if rep.GaveUp > 0 {
		b.Errorf("%d events given up\n%s", rep.GaveUp, rep)
	}
	if f := os.Getenv("SENDOPS_BENCH_HEAPPROFILE"); f != "" {
		// The heap while the server is still up (-memprofile is written
		// after it closed).
		runtime.GC()
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(out, 0)
		out.Close()
	}
	b.ReportMetric(rep.Rate(), "events/s")
	b.ReportMetric(float64(rep.Latency.Quantile(0.99))/1e6, "p99-ms")
	b.ReportMetric(0, "ns/op")
	if rep.Acked > 0 && written > 0 {
		// Bytes this process wrote to disk (the SQLite WAL and checkpoints;
		// PostgreSQL writes from its own processes, not counted here).
		b.ReportMetric(float64(written)/float64(rep.Acked), "written-B/event")
	}
	b.Logf("\n%s", rep)
}

// procWriteBytes returns the bytes this process caused to be written to
// storage (/proc/self/io write_bytes), 0 where that is not available.
func procWriteBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
