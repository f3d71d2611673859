package insight

import (
	"regexp"
	"strings"
)

// Advice explains a bounce in plain words and says what to do.
type Advice struct {
	// Code is the SMTP enhanced status code found in the diagnostic
	// ("5.1.1"), or "" when there was none.
	Code string
	// Key is what grouped the bounce: the code, a class such as "5.7.x",
	// or an SES sub-type such as "OnAccountSuppressionList".
	Key         string
	Title       string
	Explanation string
	Action      string
}

type advice struct{ title, explanation, action string }

// byCode explains the enhanced status codes (RFC 3463 and the providers'
// own uses) that SES bounces carry most.
var byCode = map[string]advice{
	"5.1.1": {"The address does not exist",
		"The receiving server says there is no mailbox with this address: a typo, a closed account or an invented address.",
		"Remove the address from your lists. SES puts it on your account's suppression list; do not send to it again."},
	"5.1.2": {"The domain does not exist or does not take mail",
		"The part after the @ does not name a mail system that accepts this address.",
		"Check the address for a typo in the domain, and remove it if it is right."},
	"5.1.10": {"The recipient was not found",
		"The domain publishes a null MX (it takes no mail), or, at Microsoft 365, the organisation's directory has no such address.",
		"Remove the address from your lists."},
	"5.2.1": {"The mailbox is disabled",
		"The mailbox exists but is disabled or not accepting mail, often an abandoned account.",
		"Stop sending to the address; try again only if the recipient tells you it is active."},
	"5.2.2": {"The mailbox is full",
		"The recipient's mailbox is over its quota and refused the message.",
		"Keep the address for now; if it stays full over several sends, treat it as abandoned and stop sending."},
	"4.2.2": {"The mailbox is full (for now)",
		"The mailbox is over quota; SES retried and gave up before it had room.",
		"Nothing to fix on your side. If it repeats for weeks, stop sending to the address."},
	"5.3.4": {"The message is too big",
		"The receiving server refused the message because of its size.",
		"Make the message smaller: link to large files instead of attaching them."},
	"5.4.1": {"The receiving system refused the recipient",
		"The server refused the address before taking the message. At Microsoft 365 (\"Recipient address rejected: Access denied\") this usually means the address does not exist in the organisation's directory.",
		"Treat it like an unknown address: remove it from your lists."},
	"5.4.4": {"The domain cannot be reached",
		"No mail server could be found for the recipient's domain (no MX record or unresolvable host).",
		"Check the domain for a typo; remove addresses at domains that do not take mail."},
	"4.4.7": {"Delivery took too long and expired",
		"SES kept retrying a server that did not accept the message in time (it was down, slow or deferring) and gave up.",
		"Usually nothing to fix. If one provider causes many of these, look at its deferral messages: it may be rate-limiting you."},
	"5.7.1": {"Refused by the receiver's policy",
		"The receiving server refused the message for a policy reason: the sender or content looked like spam, the recipient blocks you, or the recipient only takes mail from certain senders.",
		"Read the diagnostic text for the reason. Check that the recipient asked for your mail, and that your content and sending domain have a good reputation."},
	"5.7.26": {"The message failed authentication",
		"The receiver (typically Gmail) refused the message because it was not authenticated: DMARC failed, or neither SPF nor DKIM passed for your domain.",
		"Publish the identity's DKIM records and a custom MAIL FROM domain, and make sure the From domain aligns with them so that DMARC passes."},
	"5.7.509": {"Microsoft refused the message: DMARC failed",
		"Outlook.com refused the message because the sending domain's DMARC policy rejects it (\"Access denied, sending domain does not pass DMARC verification\").",
		"Sign with Easy DKIM for the From domain (or a custom MAIL FROM that aligns) so that DMARC passes."},
	"5.7.515": {"Microsoft refused the message: not authenticated enough",
		"Outlook.com requires high-volume senders to pass SPF, DKIM and DMARC, and this message did not meet that level.",
		"Publish DKIM, a custom MAIL FROM with SPF, and a DMARC record for your sending domain."},
}

// byClass explains a code that byCode does not know by its class.
var byClass = map[string]advice{
	"5.7.x": {"Blocked by the provider",
		"The receiving provider refused the message for a security or policy reason, often a block of the sending IP address or domain because of its reputation.",
		"Read the diagnostic text: it usually names the provider's reason and a page to request delisting. Lower complaint and bounce rates before sending more to this provider."},
	"4.7.x": {"Deferred by the provider",
		"The provider temporarily refused the message, typically rate limiting or greylisting, and SES gave up retrying.",
		"Send more slowly to this provider and watch its deferrals; a warm-up helps a new domain or IP address."},
	"5.x.x": {"Permanently refused",
		"The receiving server refused the message for good.",
		"Read the diagnostic text for the reason; do not retry unchanged."},
	"4.x.x": {"Temporarily refused",
		"The receiving server refused the message for now, and SES stopped retrying.",
		"Usually nothing to fix; watch for a pattern by provider."},
}

// bySubType explains what SES's bounce sub-type says when the diagnostic
// carries no code, or when the sub-type says more than any code (the
// suppression lists: SES did not even try).
var bySubType = map[string]advice{
	"OnAccountSuppressionList": {"On your account's suppression list",
		"SES did not send the message: the address is on your account's suppression list because it bounced or complained before. This does not count toward your bounce rate.",
		"Remove the address from your lists. Take it off the suppression list only if you know it works again."},
	"Suppressed": {"On the SES global suppression list",
		"SES did not send the message: the address recently hard-bounced for many SES senders.",
		"Remove the address from your lists."},
	"NoEmail": {"The address does not exist",
		"The receiving domain says there is no such address.",
		"Remove the address from your lists."},
	"MailboxFull": {"The mailbox is full",
		"The recipient's mailbox is over its quota.",
		"Keep the address for now; stop sending if it stays full."},
	"MessageTooLarge": {"The message is too big",
		"The recipient's server refused the message because of its size.",
		"Make the message smaller."},
	"ContentRejected": {"The content was refused",
		"The recipient's server refused the message's content, for example as spam.",
		"Review the content and the links in it."},
	"AttachmentRejected": {"The attachment was refused",
		"The recipient's server refused an attachment of the message.",
		"Send a link instead of the attachment."},
	"Undetermined": {"SES could not tell why",
		"The recipient's server sent a bounce SES could not classify.",
		"Read the diagnostic text, if any."},
}

var statusRE = regexp.MustCompile(`(?:^|[^0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:[^0-9.]|$)`)

// StatusCode returns the first SMTP enhanced status code in a diagnostic
// code such as "smtp; 550 5.1.1 user unknown", or "".
func StatusCode(diagnostic string) string {
	m := statusRE.FindStringSubmatch(diagnostic)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2] + "." + m[3]
}

// ExplainBounce explains a bounce from SES's bounce type and sub-type and
// the diagnostic code of the recipient.
func ExplainBounce(bounceType, subType, diagnostic string) Advice {
	code := StatusCode(diagnostic)
	out := func(key string, a advice) Advice {
		return Advice{Code: code, Key: key, Title: a.title, Explanation: a.explanation, Action: a.action}
	}
	// SES's own suppression answers say more than the code they carry.
	if subType == "OnAccountSuppressionList" || subType == "Suppressed" {
		return out(subType, bySubType[subType])
	}
	if strings.Contains(strings.ToLower(diagnostic), "suppression list") {
		return out("Suppressed", bySubType["Suppressed"])
	}
	if code != "" {
		if a, ok := byCode[code]; ok {
			return out(code, a)
		}
		class := code[:1] + "." + strings.SplitN(code, ".", 3)[1] + ".x"
		if a, ok := byClass[class]; ok {
			return out(class, a)
		}
	}
	if a, ok := bySubType[subType]; ok && subType != "" {
		return out(subType, a)
	}
	if code != "" {
		class := code[:1] + ".x.x"
		if a, ok := byClass[class]; ok {
			return out(class, a)
		}
	}
	if bounceType == "Transient" && diagnostic == "" {
		return out("Transient", advice{"A soft bounce without a reason",
			"The recipient's server answered with a soft bounce that carries no diagnostic, most often an automatic reply such as an out-of-office message.",
			"Nothing to do: SES does not count these in your bounce rate."})
	}
	if bounceType == "Permanent" {
		return out("5.x.x", byClass["5.x.x"])
	}
	return out("4.x.x", byClass["4.x.x"])
}
