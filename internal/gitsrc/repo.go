package gitsrc

import (
	"context"
	"errors"
	"io/fs"
)

// Placeholder until the go-git implementation lands (this file is replaced).
type repo struct{}

var errUnbuilt = errors.New("gitsrc: not built yet")

func validateURL(string, Options) error                     { return errUnbuilt }
func fetch(context.Context, Source, Options) (*Repo, error) { return nil, errUnbuilt }
func (r *repo) head() Commit                                { return Commit{} }
func (r *repo) fs(string) (fs.FS, error)                    { return nil, errUnbuilt }
func (r *repo) log(string, int) ([]Commit, error)           { return nil, errUnbuilt }
func (r *repo) changed(string) ([]string, error)            { return nil, errUnbuilt }
