package cli_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"sendops/internal/cli"
)

// `sendops sesim --addr A` serves the emulator and prints the credentials
// of its account; the real SDK can call it with them.
func TestSesimCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"sesim", "--addr", addr, "--account", "210987654321"}, w, io.Discard, func(string) (string, bool) { return "", false })
		w.Close()
	}()
	vars := map[string]string{}
	sc := bufio.NewScanner(out)
	for len(vars) < 2 && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	go io.Copy(io.Discard, out)
	if vars["AWS_ACCESS_KEY_ID"] == "" || vars["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("credentials not printed: %v", vars)
	}
	client := sts.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], ""),
		BaseEndpoint: aws.String("http://" + addr),
	})
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	id, err := client.GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != "210987654321" {
		t.Fatalf("account %q", aws.ToString(id.Account))
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit status %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("sesim did not stop")
	}
}
