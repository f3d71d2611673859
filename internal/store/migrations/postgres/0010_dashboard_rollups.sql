-- Three more hourly rollups, kept by ingest in the transaction that stores
-- the events (store.InsertEvents), like rollups_hourly; dashboards read
-- them instead of scanning events.

-- Events per organisation and hour, whatever their other dimensions: the
-- overview's series and totals. A year is 8,760 hours of a few rows each,
-- where rollups_hourly holds a row per connection, configuration set,
-- sending domain, template and recipient domain of each hour.
CREATE TABLE rollups_totals_hourly (
    org_id      TEXT NOT NULL,
    hour        TIMESTAMPTZ NOT NULL,
    event_type  TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, event_type, bounce_type)
);
INSERT INTO rollups_totals_hourly (org_id, hour, event_type, bounce_type, count)
SELECT org_id, hour, event_type, bounce_type, sum(count) FROM rollups_hourly GROUP BY org_id, hour, event_type, bounce_type;

-- Events by the sender's own message tags (SES's ses:* tags are not kept):
-- the tag breakdown. Bounded by ingest so that a tag with a new value per
-- message cannot grow it like the events: at most 10 tags of a message
-- count, keys and values are cut at 100 characters, and an organisation's
-- hour counts at most 20 keys and 100 values of each key. Further values of
-- a key count under the value '' (other values), further keys under the key
-- '' (other tags). See store.tagCaps.
CREATE TABLE rollups_tags_hourly (
    org_id      TEXT NOT NULL,
    hour        TIMESTAMPTZ NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, tag_key, tag_value, event_type, bounce_type)
);

-- Bounces and complaints with what SES's reputation metrics and the bounce
-- explanations need beyond rollups_hourly: the SES sub-type (an
-- OnAccountSuppressionList bounce or complaint does not count toward the
-- rates) and the SMTP enhanced status code of the bounce's diagnostic
-- ("5.1.1", '' when it has none). Bounces and complaints are a few per cent
-- of the events, so the extra columns cost little.
CREATE TABLE rollups_feedback_hourly (
    org_id           TEXT NOT NULL,
    hour             TIMESTAMPTZ NOT NULL,
    connection_id    TEXT NOT NULL,
    config_set       TEXT NOT NULL,
    sending_domain   TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    event_type       TEXT NOT NULL, -- Bounce or Complaint
    bounce_type      TEXT NOT NULL, -- Permanent, Transient, Undetermined; '' for a complaint
    bounce_subtype   TEXT NOT NULL, -- the bounce's or the complaint's SES sub-type
    status_code      TEXT NOT NULL,
    count            BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, connection_id, config_set, sending_domain, template, recipient_domain, event_type, bounce_type, bounce_subtype, status_code)
);

-- The bounces and complaints stored before this migration, without their
-- status code (SQL cannot read it out of the diagnostic the way ingest
-- does): they are explained by their SES sub-type. Their tags are not
-- rolled up: the tag breakdown starts with the events stored after this
-- migration.
INSERT INTO rollups_feedback_hourly (org_id, hour, connection_id, config_set, sending_domain, template, recipient_domain,
                                     event_type, bounce_type, bounce_subtype, status_code, count)
SELECT m.org_id, date_trunc('hour', e.at, 'UTC'), m.connection_id, m.config_set, m.sending_domain,
       m.template, COALESCE(r.domain, ''), e.type, e.bounce_type, e.bounce_subtype, '', count(*)
FROM events e
JOIN ses_messages m ON m.id = e.message_ref
LEFT JOIN message_recipients r ON r.org_id = m.org_id AND r.message_ref = e.message_ref AND r.recipient = e.recipient
WHERE e.type IN ('Bounce', 'Complaint')
GROUP BY m.org_id, date_trunc('hour', e.at, 'UTC'), m.connection_id, m.config_set, m.sending_domain,
         m.template, COALESCE(r.domain, ''), e.type, e.bounce_type, e.bounce_subtype;
