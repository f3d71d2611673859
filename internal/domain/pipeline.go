package domain

import "time"

// The states of a piece of a connection's event pipeline, as found in the
// customer's AWS account.
const (
	PiecePresent   = "present"   // there, as SendOps expects it
	PieceMissing   = "missing"   // not there
	PieceDifferent = "different" // there, but not as SendOps expects it
	PieceUnknown   = "unknown"   // could not be read (the error says why)
)

// PipelinePiece is one AWS resource of a connection's event pipeline.
type PipelinePiece struct {
	Key   string `json:"key"`   // configuration_set, event_destination, connection, api_destination, rule, target
	Title string `json:"title"` // for people: "EventBridge connection"
	Name  string `json:"name"`  // its name in AWS
	ARN   string `json:"arn,omitempty"`
	State string `json:"state"`
	// Differences says, for a different piece, what is not as expected.
	Differences []string `json:"differences,omitempty"`
	// Action is what a set-up run did to it: "created", "updated" or "".
	Action string `json:"action,omitempty"`
	// Error says why an unknown piece could not be read.
	Error string `json:"error,omitempty"`
}

// Pipeline is the event pipeline of a connection: SES → EventBridge → an
// API destination → SendOps's ingest endpoint, piece by piece.
type Pipeline struct {
	ConnectionID     string `json:"connection_id"`
	ConfigurationSet string `json:"configuration_set"`
	Endpoint         string `json:"endpoint"`
	// RateLimitPerSecond is the API destination's invocation ceiling.
	RateLimitPerSecond int             `json:"rate_limit_per_second"`
	Complete           bool            `json:"complete"` // every piece present
	SetUpAt            *time.Time      `json:"set_up_at"`
	Pieces             []PipelinePiece `json:"pieces"`
	// Changes lists what a set-up run changed, in order; empty when it
	// found everything as expected.
	Changes []string `json:"changes,omitempty"`
	// FailedAction names the AWS action a set-up run stopped at; the
	// piece it stopped at says why, and those after it were not read.
	FailedAction string `json:"failed_action,omitempty"`
}

// LeftInAWS is one AWS resource that stays in the customer's account when
// a connection is removed in SendOps, and how to remove it by hand.
type LeftInAWS struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Remove string `json:"remove"` // an AWS CLI command, or what to do
	Note   string `json:"note,omitempty"`
}

// PipelineRecord is what SendOps keeps about a connection's pipeline.
type PipelineRecord struct {
	OrgID        string
	ConnectionID string
	ConfigSet    string
	SecretSealed string // the ingest secret the EventBridge connection sends; never shown
	// SecretWritten is AWS's LastModifiedTime of the EventBridge connection
	// just after SendOps gave it the secret; nil when not given yet.
	SecretWritten *time.Time
	SetUpAt       *time.Time // the end of the last complete set-up run
}
