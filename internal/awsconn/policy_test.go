package awsconn

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// awsServices maps the AWS SDK packages SendOps calls customers' accounts
// with to their IAM service prefixes.
var awsServices = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/sesv2":       "ses",
	"github.com/aws/aws-sdk-go-v2/service/eventbridge": "events",
	"github.com/aws/aws-sdk-go-v2/service/sts":         "sts",
}

// ownSide are actions the code calls that the customer's policy does not
// grant: sts:AssumeRole is called with SendOps's own credentials (the
// customer's role allows it in its trust policy, which the CloudFormation
// template writes), and sts:GetCallerIdentity needs no permission at all.
var ownSide = map[string]bool{
	"sts:AssumeRole":        true,
	"sts:GetCallerIdentity": true,
}

// indirect is the allow-list of actions the policy holds that the code
// never calls by name: AWS checks them on SendOps's behalf when it calls
// the action they are listed under. The policy must hold exactly those
// whose action the code calls.
var indirect = map[string][]string{
	// EventBridge keeps a connection's API key in a Secrets Manager secret
	// named events!connection/NAME/…, made and written with the caller's
	// permissions; the first connection in an account also makes
	// EventBridge's service-linked role for those secrets.
	"events:CreateConnection": {"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "iam:CreateServiceLinkedRole"},
	"events:UpdateConnection": {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret"},
	"events:DeleteConnection": {"secretsmanager:DeleteSecret"},
	// A rule target with a RoleArn passes that role to EventBridge.
	"events:PutTargets": {"iam:PassRole"},
}

// optionalAllowed are actions an Optional statement may hold before any
// code calls them: canary sends to SES's mailbox simulator (issue 5: the
// sandbox's trickle of simulator mail, and test sends).
var optionalAllowed = map[string]bool{"ses:SendEmail": true}

// calledActions reads every non-test Go file under internal/ (but sesim,
// the emulator's server side, and testutil) and returns each AWS action
// the code builds an input for (a composite literal of sesv2.XInput,
// eventbridge.XInput or sts.XInput, however the package is imported) and
// the first place it does.
func calledActions(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..")
	called := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(root, path); rel == "sesim" || rel == "testutil" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		names := map[string]string{} // the file's name for each SDK package → service prefix
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			prefix, ok := awsServices[p]
			if !ok {
				continue
			}
			name := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			names[name] = prefix
		}
		if len(names) == 0 {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || names[pkg.Name] == "" || !strings.HasSuffix(sel.Sel.Name, "Input") {
				return true
			}
			action := names[pkg.Name] + ":" + strings.TrimSuffix(sel.Sel.Name, "Input")
			if _, seen := called[action]; !seen {
				pos := fset.Position(lit.Pos())
				rel, _ := filepath.Rel(root, pos.Filename)
				called[action] = fmt.Sprintf("internal/%s:%d", filepath.ToSlash(rel), pos.Line)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return called
}

// The policy lists every AWS action the code calls in a customer's
// account, and nothing else but what AWS requires for those calls.
func TestPolicyCoversCode(t *testing.T) {
	called := calledActions(t)
	if len(called) < 5 || called["ses:GetAccount"] == "" {
		t.Fatalf("the code scan found only %v: it reads the wrong files", called)
	}

	// What the policy should hold, and why.
	want := map[string]string{}
	for action, where := range called {
		if ownSide[action] {
			continue
		}
		want[action] = "called at " + where
		for _, dep := range indirect[action] {
			if want[dep] == "" {
				want[dep] = "AWS requires it for " + action + " (called at " + where + ")"
			}
		}
	}

	// What it holds, and where.
	holds := map[string]string{} // action → Sid
	for _, s := range Statements {
		for _, a := range s.Actions {
			if other, dup := holds[a]; dup {
				t.Errorf("%s is in two statements, %s and %s: keep it in one (internal/awsconn/policy.go)", a, other, s.Sid)
			}
			holds[a] = s.Sid
			if a == "ses:SendEmail" && !s.Optional {
				t.Errorf("ses:SendEmail is in %s, which is not Optional: it belongs only in the optional canary statement", s.Sid)
			}
			if s.Optional && want[a] == "" && !optionalAllowed[a] {
				t.Errorf("%s is in the optional statement %s, but no code calls it: remove it from internal/awsconn/policy.go", a, s.Sid)
			}
		}
	}
	for _, a := range slices.Sorted(mapKeys(want)) {
		if holds[a] == "" {
			t.Errorf("the policy lacks %s (%s): add it to a statement of Statements in internal/awsconn/policy.go", a, want[a])
		}
	}
	for _, a := range slices.Sorted(mapKeys(holds)) {
		if want[a] != "" || optionalAllowed[a] {
			continue
		}
		why := "no code calls it"
		for trigger, deps := range indirect {
			if slices.Contains(deps, a) {
				why += ", nor " + trigger + ", which needs it"
			}
		}
		t.Errorf("the policy has %s (statement %s) but %s: remove it from internal/awsconn/policy.go, or if AWS needs it indirectly, list it in indirect in internal/awsconn/policy_test.go with the reason", a, holds[a], why)
	}
	if holds["ses:SendEmail"] == "" {
		t.Error("the optional canary statement with ses:SendEmail is gone")
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// jsonStatement is a statement as IAM reads it.
type jsonStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, strs(t, x)...)
		}
		return out
	case map[string]any:
		b, _ := json.Marshal(v)
		return []string{string(b)}
	}
	t.Fatalf("unexpected policy value %#v", v)
	return nil
}

func TestPolicyJSON(t *testing.T) {
	for _, account := range []string{"", "123456789012"} {
		var doc struct {
			Version   string
			Statement []jsonStatement
		}
		if err := json.Unmarshal(PolicyJSON("", account), &doc); err != nil {
			t.Fatalf("the policy is not JSON: %v", err)
		}
		if doc.Version != "2012-10-17" || len(doc.Statement) != len(Statements) {
			t.Fatalf("policy: version %q, %d statements; want 2012-10-17 and %d", doc.Version, len(doc.Statement), len(Statements))
		}
		wantAccount := account
		if account == "" {
			wantAccount = "*"
		}
		sids := map[string]bool{}
		for _, st := range doc.Statement {
			if st.Effect != "Allow" || st.Sid == "" || sids[st.Sid] || strings.Trim(st.Sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
				t.Errorf("statement %q: effect %q; want Allow with a unique alphanumeric Sid", st.Sid, st.Effect)
			}
			sids[st.Sid] = true
			resources := strs(t, st.Resource)
			for _, r := range resources {
				if strings.Contains(r, "${") || (r != "*" && !strings.Contains(r, ":"+wantAccount+":")) {
					t.Errorf("statement %s: resource %q is not scoped to account %s", st.Sid, r, wantAccount)
				}
			}
			actions := strs(t, st.Action)
			switch {
			case slices.Contains(actions, "iam:PassRole"):
				want := "arn:aws:iam::" + wantAccount + ":role/SendOpsEventBridgeInvoke"
				if account != "" && want != InvokeRoleARN("aws", account) {
					t.Errorf("InvokeRoleARN(%s) = %s, want %s", account, InvokeRoleARN("aws", account), want)
				}
				if len(actions) != 1 || len(resources) != 1 || resources[0] != want || st.Condition["StringEquals"]["iam:PassedToService"] != "events.amazonaws.com" {
					t.Errorf("the PassRole statement %+v: want iam:PassRole alone, on %s only, passed to EventBridge only", st, want)
				}
			case slices.Contains(actions, "ses:SendEmail"):
				if !strings.HasPrefix(st.Sid, "Optional") || len(actions) != 1 ||
					strs(t, st.Condition["ForAllValues:StringLike"]["ses:Recipients"])[0] != "*@simulator.amazonses.com" || st.Condition["Null"]["ses:Recipients"] != "false" {
					t.Errorf("the SendEmail statement %+v: want a statement labelled Optional, for the mailbox simulator's recipients only", st)
				}
			case slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }):
				if len(resources) != 1 || !strings.Contains(resources[0], ":secret:events!connection/sendops-") {
					t.Errorf("the Secrets Manager statement %s may touch %v; want only EventBridge's secrets of SendOps's connections", st.Sid, resources)
				}
			}
		}
	}
	// The pipeline's EventBridge resources are all matched by the pattern
	// the policy scopes them with.
	if !strings.HasPrefix(PipelineName("c1"), strings.TrimSuffix(pipelinePattern, "*")) {
		t.Errorf("PipelineName(c1) = %s is not matched by %s: the policy would deny the pipeline", PipelineName("c1"), pipelinePattern)
	}
}

func TestCloudFormation(t *testing.T) {
	const principal, externalID = "arn:aws:iam::999999999999:role/sendops-server", "sendops-0123456789abcdef"
	type role struct {
		Type       string
		Condition  string
		Properties struct {
			RoleName                 any
			Description              string
			MaxSessionDuration       int
			AssumeRolePolicyDocument struct {
				Version   string
				Statement []jsonStatement
			}
			Policies []struct {
				PolicyName     string
				PolicyDocument struct {
					Version   string
					Statement []any
				}
			}
		}
	}
	type template struct {
		AWSTemplateFormatVersion string
		Description              string
		Parameters               map[string]struct {
			Type           string
			Default        any
			Description    string
			AllowedPattern string
			AllowedValues  []string
			MinLength      int
		}
		Conditions map[string]any
		Resources  struct {
			SendOpsRole role
			InvokeRole  role
		}
		Outputs map[string]struct {
			Description string
			Value       any
		}
	}
	parse := func(b []byte) template {
		t.Helper()
		var tpl template
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tpl); err != nil {
			t.Fatalf("the template does not parse as expected: %v\n%s", err, b)
		}
		return tpl
	}
	raw := CloudFormation(principal, externalID)
	tpl := parse(raw)
	if tpl.AWSTemplateFormatVersion != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %q", tpl.AWSTemplateFormatVersion)
	}
	if p := tpl.Parameters["SendOpsPrincipal"]; p.Type != "String" || p.Default != principal {
		t.Errorf("SendOpsPrincipal parameter = %+v; want the principal as its default", p)
	}
	if p := tpl.Parameters["ExternalId"]; p.Type != "String" || p.Default != externalID {
		t.Errorf("ExternalId parameter = %+v; want the organisation's ExternalId as its default", p)
	}

	// The role SendOps assumes trusts SendOps with the ExternalId only.
	sr := tpl.Resources.SendOpsRole
	if sr.Type != "AWS::IAM::Role" || len(sr.Properties.AssumeRolePolicyDocument.Statement) != 1 {
		t.Fatalf("SendOpsRole = %+v", sr)
	}
	trust := sr.Properties.AssumeRolePolicyDocument.Statement[0]
	if b, _ := json.Marshal(trust); trust.Effect != "Allow" || trust.Action != "sts:AssumeRole" ||
		!strings.Contains(string(b), `"Principal":{"AWS":{"Ref":"SendOpsPrincipal"}}`) ||
		!strings.Contains(string(b), `"Condition":{"StringEquals":{"sts:ExternalId":{"Ref":"ExternalId"}}}`) {
		t.Errorf("SendOpsRole's trust policy = %s; want sts:AssumeRole by SendOpsPrincipal with sts:ExternalId = ExternalId", b)
	}
	// Its inline policy is the policy: every statement, the optional ones
	// under the IncludeOptional condition, PassRole on the invocation role.
	if len(sr.Properties.Policies) != 1 {
		t.Fatalf("SendOpsRole has %d inline policies; want 1", len(sr.Properties.Policies))
	}
	stmts := sr.Properties.Policies[0].PolicyDocument.Statement
	if len(stmts) != len(Statements) {
		t.Fatalf("the inline policy has %d statements; want %d", len(stmts), len(Statements))
	}
	for i, s := range Statements {
		b, _ := json.Marshal(stmts[i])
		body := string(b)
		if s.Optional != strings.HasPrefix(body, `{"Fn::If":["IncludeOptional",`) || !strings.Contains(body, `"Sid":"`+s.Sid+`"`) {
			t.Errorf("statement %d of the inline policy = %s; want %s, under IncludeOptional only if optional", i, body, s.Sid)
		}
		// By ARN, not by the stack's resource: a second stack in the
		// account does not make the role.
		if slices.Contains(s.Actions, "iam:PassRole") && !strings.Contains(body, `"Resource":[{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/SendOpsEventBridgeInvoke"}]`) {
			t.Errorf("PassRole statement = %s; want it on the invocation role only", body)
		}
		if strings.Contains(body, "Fn::GetAtt") {
			t.Errorf("statement %s names a resource of the stack, which a second stack may not make: %s", s.Sid, body)
		}
		if strings.Contains(body, `"*:*:`) {
			t.Errorf("statement %s leaves the account open: %s", s.Sid, body)
		}
	}
	if _, ok := tpl.Conditions["IncludeOptional"]; !ok || tpl.Parameters["IncludeOptional"].Default != "true" {
		t.Errorf("IncludeOptional: condition %v, parameter %+v", tpl.Conditions["IncludeOptional"], tpl.Parameters["IncludeOptional"])
	}

	// The invocation role has a fixed name, so it exists once per
	// account: a second stack (another organisation) reuses it, and says
	// so where the user chooses.
	p := tpl.Parameters["CreateInvokeRole"]
	if p.Type != "String" || p.Default != "true" || !slices.Equal(p.AllowedValues, []string{"true", "false"}) ||
		!strings.Contains(p.Description, "another SendOps stack in this account") {
		t.Errorf("CreateInvokeRole parameter = %+v; want true or false, true by default, saying when to choose false", p)
	}
	if _, ok := tpl.Conditions["CreateInvokeRole"]; !ok || tpl.Resources.InvokeRole.Condition != "CreateInvokeRole" {
		t.Errorf("InvokeRole is made under condition %q (conditions %v); want CreateInvokeRole", tpl.Resources.InvokeRole.Condition, tpl.Conditions)
	}
	if tpl.Resources.SendOpsRole.Condition != "" {
		t.Errorf("SendOpsRole is made under condition %q; want always", tpl.Resources.SendOpsRole.Condition)
	}
	if b, _ := json.Marshal(tpl.Outputs["InvokeRoleArn"].Value); strings.Contains(string(b), "GetAtt") {
		t.Errorf("InvokeRoleArn output = %s: it fails when the stack does not make the role", b)
	}
	if !strings.Contains(tpl.Parameters["RoleName"].Description, "another name") {
		t.Errorf("RoleName parameter = %+v; want it to say a second stack needs another name", tpl.Parameters["RoleName"])
	}

	// The invocation role: EventBridge of this account only, invoking
	// SendOps's API destinations only, under the name the pipeline uses.
	ir := tpl.Resources.InvokeRole
	if ir.Properties.RoleName != InvokeRoleName || !strings.HasSuffix(InvokeRoleARN("aws", "123456789012"), ":role/"+InvokeRoleName) {
		t.Errorf("InvokeRole name = %v; want %s, as InvokeRoleARN has it", ir.Properties.RoleName, InvokeRoleName)
	}
	if b, _ := json.Marshal(ir.Properties); !strings.Contains(string(b), `"Principal":{"Service":"events.amazonaws.com"}`) ||
		!strings.Contains(string(b), `"Action":["events:InvokeApiDestination"]`) ||
		!strings.Contains(string(b), `"Resource":{"Fn::Sub":"arn:${AWS::Partition}:events:*:${AWS::AccountId}:api-destination/sendops-*"}`) ||
		!strings.Contains(string(b), `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
		t.Errorf("InvokeRole = %s", b)
	}
	if !strings.Contains(string(raw), externalID) || !strings.Contains(string(raw), principal) {
		t.Error("the template lacks the ExternalId or the principal")
	}
	for _, out := range []string{"RoleArn", "InvokeRoleArn"} {
		if tpl.Outputs[out].Value == nil {
			t.Errorf("no output %s", out)
		}
	}

	// Without a principal the parameter has no default and says why.
	bare := parse(CloudFormation("", externalID))
	if p := bare.Parameters["SendOpsPrincipal"]; p.Default != nil || !strings.Contains(p.Description, "SENDOPS_AWS_PRINCIPAL is not set") {
		t.Errorf("SendOpsPrincipal without a principal = %+v; want no default and a description saying so", p)
	}
}
