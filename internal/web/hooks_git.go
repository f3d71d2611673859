package web

import (
	"io"
	"net/http"

	"sendops/internal/service"
)

// gitHook takes a push webhook for a template source, from GitHub or
// GitLab: no session or API key, the signature (or token) is the
// credential. The body is limited like every request's (maxBody, 1 MiB).
// Unsigned, wrongly signed or unknown source: 401, the same answer, so
// that ids cannot be probed; a delivery seen before: 409; a push to
// another branch or another event: 202 "ignored"; a ping: 200; a push to
// the source's branch: 202 "accepted", and a sync starts a few seconds
// later (a burst of pushes is one sync).
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	h := r.Header
	delivery := h.Get("X-Gitlab-Event-UUID")
	if delivery == "" {
		delivery = h.Get("Idempotency-Key")
	}
	res, err := s.Service.ReceiveGitHook(r.Context(), r.PathValue("id"), service.GitHook{
		ContentType: h.Get("Content-Type"), Body: body,
		GitHubEvent: h.Get("X-GitHub-Event"), GitHubDelivery: h.Get("X-GitHub-Delivery"), GitHubSignature: h.Get("X-Hub-Signature-256"),
		GitLabEvent: h.Get("X-Gitlab-Event"), GitLabDelivery: delivery, GitLabToken: h.Get("X-Gitlab-Token"),
	})
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if res.Status == service.HookPong {
		status = http.StatusOK
	}
	return writeJSON(w, status, res)
}
