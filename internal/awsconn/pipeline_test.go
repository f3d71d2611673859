package awsconn

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A connection in China or GovCloud gets its partition's ARNs: the bus,
// the rule's pattern, the invocation role and the policy.
func TestPipelinePartitions(t *testing.T) {
	t.Parallel()
	arnRE := regexp.MustCompile(`"arn:([a-z-]+):`)
	for _, c := range []struct{ region, partition string }{
		{"us-east-1", "aws"}, {"eu-west-1", "aws"}, {"cn-north-1", "aws-cn"}, {"cn-northwest-1", "aws-cn"}, {"us-gov-west-1", "aws-us-gov"},
	} {
		const account = "123456789012"
		if got := Partition(c.region); got != c.partition {
			t.Errorf("Partition(%s) = %s, want %s", c.region, got, c.partition)
		}
		spec := PipelineSpec{AccountID: account, Region: c.region, ConfigurationSet: "sendops"}
		prefix := "arn:" + c.partition + ":"
		if bus := spec.BusARN(); bus != prefix+"events:"+c.region+":"+account+":event-bus/default" {
			t.Errorf("%s: bus %s", c.region, bus)
		}
		if p := spec.EventPattern(); !strings.Contains(p, `"`+prefix+"ses:"+c.region+":"+account+`:configuration-set/sendops"`) {
			t.Errorf("%s: event pattern %s", c.region, p)
		}
		if role := InvokeRoleARN(Partition(c.region), account); role != prefix+"iam::"+account+":role/"+InvokeRoleName {
			t.Errorf("%s: invocation role %s", c.region, role)
		}
		policy := string(PolicyJSON(c.partition, account))
		arns := arnRE.FindAllStringSubmatch(policy, -1)
		if len(arns) < 5 {
			t.Fatalf("%s: the policy names %d ARNs:\n%s", c.region, len(arns), policy)
		}
		for _, m := range arns {
			if m[1] != c.partition {
				t.Errorf("%s: the policy names an ARN of partition %s, want %s", c.region, m[1], c.partition)
			}
		}
	}
}

// PolicyActions is the policy's actions, but those left out.
func TestPolicyActions(t *testing.T) {
	t.Parallel()
	all := PolicyActions()
	less := PolicyActions("events:PutTargets", "ses:GetAccount")
	if !slices.Contains(all, "events:PutTargets") || !slices.Contains(all, "ses:SendEmail") || len(less) != len(all)-2 ||
		slices.Contains(less, "events:PutTargets") || slices.Contains(less, "ses:GetAccount") {
		t.Errorf("PolicyActions() = %v\nPolicyActions(events:PutTargets, ses:GetAccount) = %v", all, less)
	}
}
