package service

import (
	"context"

	"sendops/internal/domain"
)

// RepoTemplate is one SES template's content as a source's repository
// defines it at a commit: what a push sends to SES.
type RepoTemplate struct {
	Name     string
	Subject  string
	HTML     string
	Text     string
	Data     string // sample data (a JSON object), "" when none
	BlobHash string // content hash of Subject, HTML and Text
}

// sourceTemplates returns the templates of the organisation's source at its
// last synced commit (its last good state) and that commit.
func (s *Service) sourceTemplates(ctx context.Context, orgID, sourceID string) (string, []RepoTemplate, error) {
	return "", nil, domain.Errorf(domain.ENotFound, "Template source not found.")
}
