package awsconn

import (
	"encoding/json"
	"slices"
	"strings"
)

// Statement is one statement of the least-privilege IAM policy a
// customer's role (or access key's user) needs for SendOps. Every AWS
// action SendOps's code calls in a customer's account is in exactly one
// statement; a test reads the code to prove it.
type Statement struct {
	Sid     string
	Actions []string
	// Optional statements are for features a customer may leave out.
	Optional bool
	// Resources limits the statement to these ARNs, written as for
	// CloudFormation's Fn::Sub: ${AWS::Partition} and ${AWS::AccountId}
	// stand for the customer's. None means every resource ("*"), which
	// List actions need, and SES's actions on whatever identities and
	// configuration sets the customer has.
	Resources []string
	// Condition is the statement's IAM condition: operator, key, values.
	Condition map[string]map[string][]string
}

// Statements is the policy, in the order it is shown. Code that calls a
// new AWS action adds it here (the test fails until it does): to the
// statement of its service and kind, or to SendOpsManageItsPipeline when
// it acts on a resource named by PipelineName.
var Statements = []Statement{
	{Sid: "SendOpsReadSES", Actions: []string{
		"ses:GetAccount",
		"ses:ListEmailIdentities",
		"ses:GetEmailIdentity",
		"ses:ListConfigurationSets",
		"ses:GetConfigurationSet",
		"ses:GetConfigurationSetEventDestinations",
		"ses:ListSuppressedDestinations",
		"ses:GetSuppressedDestination",
		"ses:ListEmailTemplates",
		"ses:GetEmailTemplate",
		"ses:TestRenderEmailTemplate",
	}},
	{Sid: "SendOpsManageSES", Actions: []string{
		"ses:CreateEmailIdentity",
		"ses:DeleteEmailIdentity",
		"ses:PutEmailIdentityMailFromAttributes",
		"ses:CreateConfigurationSet",
		"ses:DeleteConfigurationSet",
		"ses:CreateConfigurationSetEventDestination",
		"ses:UpdateConfigurationSetEventDestination",
		"ses:PutSuppressedDestination",
		"ses:DeleteSuppressedDestination",
		"ses:CreateEmailTemplate",
		"ses:UpdateEmailTemplate",
		"ses:DeleteEmailTemplate",
	}},
	{Sid: "SendOpsReadEventBridge", Actions: []string{
		"events:ListRules",
		"events:ListConnections",
		"events:ListApiDestinations",
	}},
	// The event pipeline's EventBridge connection, API destination and
	// rule are all named PipelineName(connection id).
	{Sid: "SendOpsManageItsPipeline", Actions: []string{
		"events:DescribeConnection",
		"events:CreateConnection",
		"events:UpdateConnection",
		"events:DescribeApiDestination",
		"events:CreateApiDestination",
		"events:UpdateApiDestination",
		"events:DescribeRule",
		"events:PutRule",
		"events:ListTargetsByRule",
		"events:PutTargets",
	}, Resources: []string{
		"arn:${AWS::Partition}:events:*:${AWS::AccountId}:connection/" + pipelinePattern,
		"arn:${AWS::Partition}:events:*:${AWS::AccountId}:api-destination/" + pipelinePattern,
		"arn:${AWS::Partition}:events:*:${AWS::AccountId}:rule/" + pipelinePattern,
	}},
	// AWS asks for these on SendOps's behalf: an EventBridge connection
	// keeps its API key in a Secrets Manager secret named after it, which
	// the caller of CreateConnection and UpdateConnection must be allowed
	// to write.
	{Sid: "SendOpsPipelineConnectionSecrets", Actions: []string{
		"secretsmanager:CreateSecret",
		"secretsmanager:DescribeSecret",
		"secretsmanager:GetSecretValue",
		"secretsmanager:PutSecretValue",
		"secretsmanager:UpdateSecret",
	}, Resources: []string{
		"arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:events!connection/" + pipelinePattern,
	}},
	// The first EventBridge connection in an account makes EventBridge's
	// service-linked role for those secrets.
	{Sid: "SendOpsPipelineServiceLinkedRole", Actions: []string{
		"iam:CreateServiceLinkedRole",
	}, Resources: []string{
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/apidestinations.events.amazonaws.com/AWSServiceRoleForAmazonEventBridgeApiDestinations",
	}, Condition: map[string]map[string][]string{
		"StringEquals": {"iam:AWSServiceName": {"apidestinations.events.amazonaws.com"}},
	}},
	// The rule's target names the role EventBridge assumes to call the API
	// destination; giving it takes iam:PassRole, on that role only.
	{Sid: "SendOpsPassesOnlyTheInvocationRole", Actions: []string{
		"iam:PassRole",
	}, Resources: []string{
		invokeRolePattern,
	}, Condition: map[string]map[string][]string{
		"StringEquals": {"iam:PassedToService": {"events.amazonaws.com"}},
	}},
	// Canary sends go to SES's mailbox simulator only: every recipient
	// must be one of its addresses.
	{Sid: "OptionalCanarySendsToTheSESMailboxSimulatorOnly", Optional: true, Actions: []string{
		"ses:SendEmail",
	}, Condition: map[string]map[string][]string{
		"ForAllValues:StringLike": {"ses:Recipients": {"*@simulator.amazonses.com"}},
		"Null":                    {"ses:Recipients": {"false"}},
	}},
}

// pipelinePattern matches PipelineName of every connection (and, in a
// resource ARN, what follows the name).
const pipelinePattern = "sendops-*"

// InvokeRoleName is the name of the role EventBridge assumes to call the
// API destination of a rule target. The CloudFormation template creates it
// beside the role SendOps assumes (once per account: a second stack reuses
// it), and SendOps's policy may pass only it.
const InvokeRoleName = "SendOpsEventBridgeInvoke"

const invokeRolePattern = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + InvokeRoleName

// InvokeRoleARN is the ARN of the invocation role in a customer's account
// of partition (see Partition): the RoleArn of the event pipeline's rule
// target.
func InvokeRoleARN(partition, accountID string) string {
	return "arn:" + partition + ":iam::" + accountID + ":role/" + InvokeRoleName
}

// Partitions are the AWS partitions SendOps knows; the first is the
// default.
var Partitions = []string{"aws", "aws-cn", "aws-us-gov"}

// Partition is the AWS partition of a region, which every ARN in it
// starts with: aws-cn for China, aws-us-gov for GovCloud (US), aws for
// the others.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// PolicyActions is every action of the policy, in order, but those in
// except: what a role holding exactly the policy (less some) may do.
func PolicyActions(except ...string) []string {
	var out []string
	for _, st := range Statements {
		for _, a := range st.Actions {
			if !slices.Contains(except, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// policyDocument is an IAM policy document. Its values are strings, or
// CloudFormation intrinsic functions in a template.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// document renders the statements; value turns a string that may hold
// ${AWS::…} variables into a policy value.
func document(value func(string) any, include func(Statement) bool) policyDocument {
	doc := policyDocument{Version: "2012-10-17"}
	for _, s := range Statements {
		if !include(s) {
			continue
		}
		st := policyStatement{Sid: s.Sid, Effect: "Allow", Action: s.Actions, Resource: "*"}
		if len(s.Resources) > 0 {
			rs := make([]any, len(s.Resources))
			for i, r := range s.Resources {
				rs[i] = value(r)
			}
			st.Resource = rs
		}
		if len(s.Condition) > 0 {
			st.Condition = map[string]map[string]any{}
			for op, keys := range s.Condition {
				st.Condition[op] = map[string]any{}
				for k, vs := range keys {
					if len(vs) == 1 {
						st.Condition[op][k] = vs[0]
					} else {
						st.Condition[op][k] = vs
					}
				}
			}
		}
		doc.Statement = append(doc.Statement, st)
	}
	return doc
}

// PolicyJSON is the IAM policy SendOps needs in a customer's account of
// partition (see Partition; "" is aws), to attach to the role SendOps
// assumes (or the user whose access keys it holds). accountID scopes its
// resources; "" leaves the account a wildcard, which a policy in one
// account may do (IAM lets a principal pass only roles of its own
// account). Optional statements are included; their Sid says so.
func PolicyJSON(partition, accountID string) []byte {
	if partition == "" {
		partition = Partitions[0]
	}
	if accountID == "" {
		accountID = "*"
	}
	sub := strings.NewReplacer("${AWS::Partition}", partition, "${AWS::AccountId}", accountID)
	doc := document(func(s string) any { return sub.Replace(s) }, func(Statement) bool { return true })
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // only strings, slices and maps
	}
	return append(b, '\n')
}

// CloudFormation is a CloudFormation template (JSON, which is also YAML)
// that makes, in the account it is deployed to, the role SendOps assumes —
// trusting principal with the organisation's externalID, with the policy
// inline — and the invocation role EventBridge assumes for the event
// pipeline's rule target. principal "" leaves the parameter for the user
// to fill in. Deploy it once per account and organisation: IAM roles serve
// every region. The invocation role has a fixed name, so a second stack in
// an account (another SendOps organisation) sets CreateInvokeRole to false
// and uses the one the first made; the policy names it by ARN either way.
func CloudFormation(principal, externalID string) []byte {
	fnSub := func(s string) any {
		if strings.Contains(s, "${") {
			return map[string]any{"Fn::Sub": s}
		}
		return s
	}
	doc := document(fnSub, func(Statement) bool { return true })
	statements := make([]any, len(doc.Statement))
	var optional []string
	for i, st := range doc.Statement {
		statements[i] = st
		if Statements[i].Optional {
			// Left out (AWS::NoValue) unless the parameter includes it.
			statements[i] = map[string]any{"Fn::If": []any{"IncludeOptional", st, map[string]string{"Ref": "AWS::NoValue"}}}
			optional = append(optional, st.Sid)
		}
	}

	principalParam := map[string]any{
		"Type":           "String",
		"Description":    "The ARN of SendOps's own AWS identity, which assumes the role (SENDOPS_AWS_PRINCIPAL of the SendOps server).",
		"AllowedPattern": `^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$`,
	}
	if principal != "" {
		principalParam["Default"] = principal
	} else {
		principalParam["Description"] = "The ARN of SendOps's own AWS identity, which assumes the role. This SendOps server does not say what it is (SENDOPS_AWS_PRINCIPAL is not set): ask whoever runs it."
	}
	template := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "SendOps: the role SendOps assumes to manage SES and its event pipeline in this account, and the role EventBridge assumes to deliver SES events to SendOps. Deploy once per account and SendOps organisation; the roles serve every region. A second stack in the same account sets CreateInvokeRole to false and another RoleName.",
		"Parameters": map[string]any{
			"SendOpsPrincipal": principalParam,
			"ExternalId": map[string]any{
				"Type":        "String",
				"Default":     externalID,
				"Description": "Your SendOps organisation's ExternalId: the role trusts SendOps only when it names it.",
				"MinLength":   2,
			},
			"RoleName": map[string]any{
				"Type":        "String",
				"Default":     "SendOps",
				"Description": "The name of the role SendOps assumes; give its ARN to SendOps. A second stack in this account (another SendOps organisation) needs another name.",
			},
			"CreateInvokeRole": map[string]any{
				"Type":          "String",
				"AllowedValues": []string{"true", "false"},
				"Default":       "true",
				"Description":   "Create " + InvokeRoleName + ", the role EventBridge assumes to deliver events to SendOps. It exists once per account: set false when another SendOps stack in this account (another organisation) already made it, and this stack uses that one. Keep the stack that made it while any other uses it.",
			},
			"IncludeOptional": map[string]any{
				"Type":          "String",
				"AllowedValues": []string{"true", "false"},
				"Default":       "true",
				"Description":   "Include the optional statements of SendOps's policy (" + strings.Join(optional, ", ") + "); false leaves them out.",
			},
		},
		"Conditions": map[string]any{
			"IncludeOptional":  map[string]any{"Fn::Equals": []any{map[string]string{"Ref": "IncludeOptional"}, "true"}},
			"CreateInvokeRole": map[string]any{"Fn::Equals": []any{map[string]string{"Ref": "CreateInvokeRole"}, "true"}},
		},
		"Resources": map[string]any{
			"SendOpsRole": map[string]any{
				"Type": "AWS::IAM::Role",
				"Properties": map[string]any{
					"RoleName":           map[string]string{"Ref": "RoleName"},
					"Description":        "Assumed by SendOps to manage SES and its event pipeline.",
					"MaxSessionDuration": 3600,
					"AssumeRolePolicyDocument": policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
						Effect:    "Allow",
						Principal: map[string]any{"AWS": map[string]string{"Ref": "SendOpsPrincipal"}},
						Action:    "sts:AssumeRole",
						Condition: map[string]map[string]any{"StringEquals": {"sts:ExternalId": map[string]string{"Ref": "ExternalId"}}},
					}}},
					"Policies": []any{map[string]any{
						"PolicyName":     "SendOps",
						"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": statements},
					}},
				},
			},
			"InvokeRole": map[string]any{
				"Type":      "AWS::IAM::Role",
				"Condition": "CreateInvokeRole",
				"Properties": map[string]any{
					"RoleName":    InvokeRoleName,
					"Description": "Assumed by EventBridge to deliver SES events to SendOps's API destinations.",
					"AssumeRolePolicyDocument": policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
						Effect:    "Allow",
						Principal: map[string]string{"Service": "events.amazonaws.com"},
						Action:    "sts:AssumeRole",
						Condition: map[string]map[string]any{"StringEquals": {"aws:SourceAccount": map[string]string{"Ref": "AWS::AccountId"}}},
					}}},
					"Policies": []any{map[string]any{
						"PolicyName": "InvokeSendOpsApiDestinations",
						"PolicyDocument": policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
							Sid:      "InvokeSendOpsApiDestinations",
							Effect:   "Allow",
							Action:   []string{"events:InvokeApiDestination"},
							Resource: map[string]string{"Fn::Sub": "arn:${AWS::Partition}:events:*:${AWS::AccountId}:api-destination/" + pipelinePattern},
						}}},
					}},
				},
			},
		},
		"Outputs": map[string]any{
			"RoleArn": map[string]any{
				"Description": "Give this to SendOps as the connection's role ARN.",
				"Value":       map[string]any{"Fn::GetAtt": []string{"SendOpsRole", "Arn"}},
			},
			"InvokeRoleArn": map[string]any{
				"Description": "The role the event pipeline's EventBridge rule target uses (made by this stack, or by the SendOps stack that made it first in this account).",
				"Value":       fnSub(invokeRolePattern),
			},
		},
	}
	b, err := json.MarshalIndent(template, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
