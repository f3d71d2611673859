package awsconn

// Statement is one statement of the least-privilege IAM policy a
// customer's role (or access key's user) needs for SendOps. Every AWS
// action SendOps's code calls in a customer's account is in exactly one
// statement; a test reads the code to prove it.
type Statement struct {
	Sid     string
	Actions []string
	// Optional statements are for features a customer may leave out.
	Optional bool
}

// Statements is the policy, in the order it is shown. Code that calls a
// new AWS action adds it here (the test fails until it does).
var Statements = []Statement{
	{Sid: "SendOpsReadSES", Actions: []string{
		"ses:GetAccount",
		"ses:ListEmailIdentities",
		"ses:ListConfigurationSets",
		"ses:ListSuppressedDestinations",
		"ses:ListEmailTemplates",
	}},
	{Sid: "SendOpsReadEventBridge", Actions: []string{
		"events:ListRules",
		"events:ListConnections",
		"events:ListApiDestinations",
	}},
	{Sid: "OptionalCanarySendsToTheSESMailboxSimulatorOnly", Optional: true, Actions: []string{
		"ses:SendEmail",
	}},
}
