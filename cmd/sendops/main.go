// Command sendops is the SendOps server and its tools; see internal/cli.
package main

import (
	"context"
	"os"

	"sendops/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}
