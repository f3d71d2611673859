package web

import "net/http"

// kind says who may reach a route and how errors are shown.
type kind int

const (
	public     kind = iota // anyone; a session is loaded when there is one
	pending                // a sign-in waiting for its second factor
	user                   // a signed-in user, in an organisation or not
	member                 // a signed-in user acting in their current organisation
	api                    // an API key (Authorization: Bearer)
	apiOpen                // part of /api/v1 that needs no key
	ops                    // health and metrics: no session, no logging of bodies
	ingestKind             // event ingest: its own credentials, logged at debug level
	notFound               // no route matched: a 404 page, or JSON under /api/ and /ingest/
)

// handler serves a request once the route's kind is satisfied; c holds the
// session, user and actor. An error it returns is shown as the route's kind
// shows errors (a JSON error for the API, a page for the UI).
type handler func(w http.ResponseWriter, r *http.Request, c *reqCtx) error

// route is one entry of the route table.
type route struct {
	Method  string
	Pattern string
	Kind    kind
	h       handler
}

// RouteInfo describes a route, for tests and documentation.
type RouteInfo struct {
	Method, Pattern string
	// API routes take an API key; the others a browser session (or nothing).
	API bool
	// Auth: "public", "session", "key" or "none" (ops and openapi).
	Auth string
}

// Routes lists every route the server serves.
func (s *Server) Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.routes {
		auth := map[kind]string{public: "public", pending: "session", user: "session", member: "session", api: "key", apiOpen: "none", ops: "none", ingestKind: "ingest"}[rt.Kind]
		out = append(out, RouteInfo{Method: rt.Method, Pattern: rt.Pattern, API: rt.Kind == api || rt.Kind == apiOpen, Auth: auth})
	}
	return out
}

// routeTable is every route of SendOps, in one place.
func (s *Server) routeTable() []route {
	return []route{
		// Operations.
		{"GET", "/healthz", ops, s.healthz},
		{"GET", "/readyz", ops, s.readyz},
		{"GET", "/metrics", ops, s.metricsPage},
		{"GET", "/static/{file}", ops, s.static},

		// Signing up and in.
		{"GET", "/{$}", public, s.home},
		{"GET", "/signup", public, s.signupPage},
		{"POST", "/signup", public, s.signupSubmit},
		{"GET", "/login", public, s.loginPage},
		{"POST", "/login", public, s.loginSubmit},
		{"GET", "/login/mfa", pending, s.mfaChallengePage},
		{"POST", "/login/mfa", pending, s.mfaChallengeSubmit},
		{"POST", "/logout", public, s.logout},
		{"GET", "/verify/{token}", public, s.verifyEmail},
		{"POST", "/verify/resend", user, s.verifyResend},
		{"GET", "/forgot", public, s.forgotPage},
		{"POST", "/forgot", public, s.forgotSubmit},
		{"GET", "/reset/{token}", public, s.resetPage},
		{"POST", "/reset/{token}", public, s.resetSubmit},
		{"GET", "/email/confirm/{token}", public, s.emailConfirm},
		{"GET", "/invitations/{token}", public, s.invitationPage},
		{"POST", "/invitations/{token}/accept", user, s.invitationAccept},

		// The application's sections.
		{"GET", "/overview", member, s.overviewPage},
		{"GET", "/breakdowns", member, s.breakdownsPage},
		{"GET", "/reputation", member, s.reputationPage},
		{"GET", "/messages", member, s.messagesPage},
		{"GET", "/messages/export", member, s.messagesExport},
		{"GET", "/bounces/export", member, s.bouncesExport},
		{"GET", "/complaints/export", member, s.complaintsExport},
		{"GET", "/messages/{message_id}", member, s.messagePage},
		{"GET", "/recipients/{address}", member, s.recipientPage},
		{"GET", "/connections", member, s.connectionsPage},
		{"GET", "/connections/iam-policy.json", member, s.connectionsIAMPolicy},
		{"GET", "/connections/cloudformation.yaml", member, s.connectionsCloudFormation},
		{"POST", "/connections", member, s.connectionCreate},
		{"POST", "/connections/{id}/rotate", member, s.connectionRotate},
		{"GET", "/connections/{id}", member, s.connectionPage},
		{"POST", "/connections/{id}/pipeline", member, s.connectionPipeline},
		{"POST", "/connections/{id}/remove", member, s.connectionRemove},
		{"GET", "/identities", member, s.sesOverviewPage},
		{"GET", "/connections/{id}/account", member, s.sesAccountPage},
		{"GET", "/connections/{id}/identities", member, s.sesIdentitiesPage},
		{"POST", "/connections/{id}/identities", member, s.sesIdentityCreate},
		{"GET", "/connections/{id}/identities/{identity}", member, s.sesIdentityPage},
		{"POST", "/connections/{id}/identities/{identity}/delete", member, s.sesIdentityDelete},
		{"GET", "/connections/{id}/configuration-sets", member, s.sesConfigSetsPage},
		{"POST", "/connections/{id}/configuration-sets", member, s.sesConfigSetCreate},
		{"POST", "/connections/{id}/configuration-sets/{name}/delete", member, s.sesConfigSetDelete},
		{"GET", "/connections/{id}/suppression", member, s.sesSuppressionPage},
		{"POST", "/connections/{id}/suppression", member, s.sesSuppressionAdd},
		{"POST", "/connections/{id}/suppression/remove", member, s.sesSuppressionRemove},
		{"POST", "/connections/{id}/suppression/import", member, s.sesSuppressionImport},
		{"GET", "/connections/{id}/suppression/export.csv", member, s.sesSuppressionExport},
		{"GET", "/templates", member, s.templateSourcesPage},
		{"GET", "/templates/new", member, s.templateSourceNewPage},
		{"POST", "/templates/new", member, s.templateSourceCreate},
		{"GET", "/templates/{id}", member, s.templateSourcePage},
		{"GET", "/templates/{id}/edit", member, s.templateSourceEditPage},
		{"POST", "/templates/{id}/edit", member, s.templateSourceUpdate},
		{"POST", "/templates/{id}/sync", member, s.templateSourceSync},
		{"POST", "/templates/{id}/webhook-secret", member, s.templateSourceRotate},
		{"POST", "/templates/{id}/delete", member, s.templateSourceDelete},
		{"GET", "/templates/{id}/push", member, s.templatePushPage},
		{"POST", "/templates/{id}/push", member, s.templatePushApply},
		{"GET", "/templates/{id}/drift", member, s.templateDriftPage},
		{"GET", "/templates/{id}/jobs/{job}", member, s.templateJobPage},
		{"GET", "/templates/{id}/t/{name}", member, s.templatePage},
		{"POST", "/templates/{id}/t/{name}", member, s.templateRender},
		{"GET", "/templates/{id}/t/{name}/preview.html", member, s.templatePreviewHTML},
		{"GET", "/templates/{id}/t/{name}/ses.html", member, s.templateSESHTML},
		{"GET", "/templates/{id}/t/{name}/history", member, s.templateHistoryPage},

		// Organisations.
		{"POST", "/orgs", user, s.orgCreate},
		{"POST", "/orgs/{id}/switch", user, s.orgSwitch},

		// Settings of the signed-in user.
		{"GET", "/settings", user, s.settingsHome},
		{"GET", "/settings/profile", user, s.profilePage},
		{"POST", "/settings/profile", user, s.profileSave},
		{"POST", "/settings/email", user, s.emailChange},
		{"POST", "/settings/password", user, s.passwordChange},
		{"GET", "/settings/security", user, s.securityPage},
		{"POST", "/settings/mfa/start", user, s.mfaStart},
		{"POST", "/settings/mfa/enable", user, s.mfaEnable},
		{"POST", "/settings/mfa/disable", user, s.mfaDisable},
		{"POST", "/settings/mfa/recovery", user, s.mfaRecovery},
		{"POST", "/settings/sessions/{id}/revoke", user, s.sessionRevoke},
		{"GET", "/settings/notifications", user, s.noticesPage},
		{"POST", "/settings/notifications", user, s.noticesSave},

		// Settings of the current organisation.
		{"GET", "/settings/organisation", user, s.orgPage},
		{"POST", "/settings/organisation", member, s.orgSave},
		{"POST", "/settings/organisation/leave", member, s.orgLeave},
		{"GET", "/settings/members", member, s.membersPage},
		{"POST", "/settings/members/invite", member, s.memberInvite},
		{"POST", "/settings/members/{id}/role", member, s.memberRole},
		{"POST", "/settings/members/{id}/remove", member, s.memberRemove},
		{"POST", "/settings/invitations/{id}/revoke", member, s.invitationRevoke},
		{"GET", "/settings/apikeys", member, s.apiKeysPage},
		{"POST", "/settings/apikeys", member, s.apiKeyCreate},
		{"POST", "/settings/apikeys/{id}/revoke", member, s.apiKeyRevoke},
		{"GET", "/settings/audit", member, s.auditPage},
		{"GET", "/settings/audit.csv", member, s.auditCSV},

		// Event ingest.
		{"POST", "/ingest/eventbridge", ingestKind, s.ingestEventBridge},
		{"POST", "/ingest/sns/{token}", ingestKind, s.ingestSNS},

		// Push webhooks of template sources' Git hosts: signed, no session.
		{"POST", "/hooks/git/{id}", ingestKind, s.gitHook},

		// The API.
		{"GET", "/api/v1/openapi.json", apiOpen, s.openAPI},
		{"GET", "/api/v1/org", api, s.apiOrgGet},
		{"PATCH", "/api/v1/org", api, s.apiOrgUpdate},
		{"GET", "/api/v1/members", api, s.apiMembersList},
		{"PATCH", "/api/v1/members/{id}", api, s.apiMemberUpdate},
		{"DELETE", "/api/v1/members/{id}", api, s.apiMemberDelete},
		{"GET", "/api/v1/invitations", api, s.apiInvitationsList},
		{"POST", "/api/v1/invitations", api, s.apiInvitationCreate},
		{"DELETE", "/api/v1/invitations/{id}", api, s.apiInvitationDelete},
		{"GET", "/api/v1/apikeys", api, s.apiKeysList},
		{"POST", "/api/v1/apikeys", api, s.apiKeyCreateJSON},
		{"DELETE", "/api/v1/apikeys/{id}", api, s.apiKeyDelete},
		{"GET", "/api/v1/audit", api, s.apiAuditList},
		{"GET", "/api/v1/audit/export.csv", api, s.apiAuditCSV},
		{"GET", "/api/v1/connections", api, s.apiConnectionsList},
		{"POST", "/api/v1/connections", api, s.apiConnectionCreate},
		{"GET", "/api/v1/connections/{id}", api, s.apiConnectionGet},
		{"POST", "/api/v1/connections/{id}/rotate", api, s.apiConnectionRotate},
		{"DELETE", "/api/v1/connections/{id}", api, s.apiConnectionDelete},
		{"GET", "/api/v1/connections/{id}/pipeline", api, s.apiPipelineGet},
		{"POST", "/api/v1/connections/{id}/pipeline", api, s.apiPipelineSetUp},
		{"GET", "/api/v1/connections/{id}/account", api, s.apiSESAccount},
		{"GET", "/api/v1/connections/{id}/identities", api, s.apiSESIdentitiesList},
		{"POST", "/api/v1/connections/{id}/identities", api, s.apiSESIdentityCreate},
		{"GET", "/api/v1/connections/{id}/identities/{identity}", api, s.apiSESIdentityGet},
		{"DELETE", "/api/v1/connections/{id}/identities/{identity}", api, s.apiSESIdentityDelete},
		{"GET", "/api/v1/connections/{id}/configuration-sets", api, s.apiSESConfigSetsList},
		{"POST", "/api/v1/connections/{id}/configuration-sets", api, s.apiSESConfigSetCreate},
		{"GET", "/api/v1/connections/{id}/configuration-sets/{name}", api, s.apiSESConfigSetGet},
		{"DELETE", "/api/v1/connections/{id}/configuration-sets/{name}", api, s.apiSESConfigSetDelete},
		{"GET", "/api/v1/connections/{id}/suppression", api, s.apiSuppressionList},
		{"POST", "/api/v1/connections/{id}/suppression/import", api, s.apiSuppressionImport},
		{"GET", "/api/v1/connections/{id}/suppression/export.csv", api, s.apiSuppressionExport},
		{"GET", "/api/v1/connections/{id}/suppression/{email}", api, s.apiSuppressionGet},
		{"PUT", "/api/v1/connections/{id}/suppression/{email}", api, s.apiSuppressionPut},
		{"DELETE", "/api/v1/connections/{id}/suppression/{email}", api, s.apiSuppressionDelete},
		{"GET", "/api/v1/connections/{id}/templates", api, s.apiSESTemplatesList},
		{"POST", "/api/v1/connections/{id}/templates/{name}/test-render", api, s.apiSESTemplateTestRender},
		{"POST", "/api/v1/template-sources/{id}/plan", api, s.apiTemplatePushPlan},
		{"POST", "/api/v1/template-sources/{id}/push", api, s.apiTemplatePush},
		{"GET", "/api/v1/template-sources/{id}/drift", api, s.apiTemplateDrift},
		{"GET", "/api/v1/template-jobs/{id}", api, s.apiTemplateJob},
		{"GET", "/api/v1/aws/iam-policy", api, s.apiAWSPolicy},
		{"GET", "/api/v1/aws/cloudformation", api, s.apiAWSCloudFormation},
		{"GET", "/api/v1/stats", api, s.apiStats},
		{"GET", "/api/v1/breakdowns", api, s.apiBreakdowns},
		{"GET", "/api/v1/reputation", api, s.apiReputation},
		{"GET", "/api/v1/bounces/summary", api, s.apiBouncesSummary},
		{"GET", "/api/v1/messages", api, s.apiMessagesSearch},
		{"GET", "/api/v1/messages/export", api, s.apiMessagesExport},
		{"GET", "/api/v1/bounces/export", api, s.apiBouncesExport},
		{"GET", "/api/v1/complaints/export", api, s.apiComplaintsExport},
		{"GET", "/api/v1/messages/{message_id}", api, s.apiMessageGet},
		{"GET", "/api/v1/recipients/{address}", api, s.apiRecipientGet},
		{"GET", "/api/v1/template-sources", api, s.apiTemplateSourcesList},
		{"POST", "/api/v1/template-sources", api, s.apiTemplateSourceCreate},
		{"POST", "/api/v1/template-sources/preview", api, s.apiTemplateSourcePreview},
		{"GET", "/api/v1/template-sources/{id}", api, s.apiTemplateSourceGet},
		{"PATCH", "/api/v1/template-sources/{id}", api, s.apiTemplateSourceUpdate},
		{"DELETE", "/api/v1/template-sources/{id}", api, s.apiTemplateSourceDelete},
		{"POST", "/api/v1/template-sources/{id}/sync", api, s.apiTemplateSourceSync},
		{"GET", "/api/v1/template-sources/{id}/syncs", api, s.apiTemplateSourceSyncs},
		{"POST", "/api/v1/template-sources/{id}/webhook-secret", api, s.apiTemplateSourceRotateHook},
		{"GET", "/api/v1/template-sources/{id}/templates", api, s.apiSourceTemplates},
		{"GET", "/api/v1/template-sources/{id}/templates/{name}", api, s.apiSourceTemplateGet},
		{"GET", "/api/v1/template-sources/{id}/templates/{name}/history", api, s.apiSourceTemplateHistory},
		{"GET", "/api/v1/template-sources/{id}/templates/{name}/diff", api, s.apiSourceTemplateDiff},
		{"POST", "/api/v1/template-sources/{id}/templates/{name}/render", api, s.apiSourceTemplateRender},
	}
}
