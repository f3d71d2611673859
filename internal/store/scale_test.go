package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/testutil/testdb"
)

// dailyFixture makes rows of org over three days from base: several
// connections, configuration sets, templates, recipient domains and tags,
// bounces with status codes and complaints. Keys are unique.
func dailyFixture(org string, base time.Time, n int) []EventRow {
	rng := rand.New(rand.NewPCG(7, uint64(len(org))))
	var rows []EventRow
	types := []struct{ typ, bounce, sub, diag string }{
		{"Send", "", "", ""}, {"Delivery", "", "", ""}, {"Open", "", "", ""},
		{"Bounce", "Permanent", "General", "smtp; 550 5.1.1 user unknown"},
		{"Bounce", "Transient", "MailboxFull", "smtp; 452 4.2.2 mailbox full"},
		{"Bounce", "Permanent", "OnAccountSuppressionList", ""},
		{"Complaint", "", "abuse", ""},
	}
	for i := range n {
		at := base.Add(time.Duration(rng.IntN(72*60)) * time.Minute)
		ty := types[rng.IntN(len(types))]
		r := statsRow(len(org)*1_000_000+i, org, fmt.Sprintf("%s-m%d", org, i/3), ty.typ,
			fmt.Sprintf("u%d@%s", i%17, []string{"gmail.com", "yahoo.com", "corp.example"}[i%3]), at,
			fmt.Sprintf(`{"campaign":["c%d"],"kind":["k%d"]}`, i%4, i%2))
		r.BounceType, r.BounceSub, r.Diagnostic = ty.bounce, ty.sub, ty.diag
		if ty.typ == "Complaint" {
			r.BounceSub = ty.sub
		}
		r.ConnectionID = []string{"conn-1", "conn-2"}[i%2]
		r.ConfigSet = []string{"marketing", "billing", ""}[i%3]
		r.Template = []string{"welcome", "", "invoice", "reset"}[i%4]
		r.SendingDomain = []string{"shop.example", "news.shop.example"}[i%2]
		rows = append(rows, r)
	}
	return rows
}

// expectedCounts counts rows by a dimension, as the rollups must, for the
// hours in [from, to): "key|value|type|bounce" → n.
func expectedCounts(rows []EventRow, org string, from, to time.Time, by Dim) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows {
		if r.OrgID != org || r.At.Before(from) || !r.At.Before(to) {
			continue
		}
		keys := []string{""}
		switch by {
		case ByDay:
			keys = []string{r.At.UTC().Format("2006-01-02") + "|"}
		case ByConnection:
			keys = []string{r.ConnectionID + "|"}
		case ByConfigSet:
			keys = []string{r.ConfigSet + "|"}
		case BySendingDomain:
			keys = []string{r.SendingDomain + "|"}
		case ByTemplate:
			keys = []string{r.Template + "|"}
		case ByRecipientDomain:
			keys = []string{domainOf(r.Recipient) + "|"}
		case ByTag:
			keys = nil
			for _, p := range MessageTags(r.Tags) {
				keys = append(keys, p.Key+"|"+p.Value)
			}
		default:
			keys = []string{"|"}
		}
		for _, k := range keys {
			out[k+"|"+r.Type+"|"+r.BounceType]++
		}
	}
	return out
}

// expectedFeedback counts bounces and complaints like FeedbackCounts.
func expectedFeedback(rows []EventRow, org string, from, to time.Time, by Dim) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows {
		if r.OrgID != org || r.At.Before(from) || !r.At.Before(to) || r.Type != "Bounce" && r.Type != "Complaint" {
			continue
		}
		key := ""
		switch by {
		case ByDay:
			key = r.At.UTC().Format("2006-01-02")
		case ByConnection:
			key = r.ConnectionID
		case ByTemplate:
			key = r.Template
		case ByRecipientDomain:
			key = domainOf(r.Recipient)
		}
		code := ""
		if r.Type == "Bounce" {
			code = insight.StatusCode(r.Diagnostic)
		}
		out[key+"|"+r.Type+"|"+r.BounceType+"|"+r.BounceSub+"|"+code]++
	}
	return out
}

// The daily rollups count every new row once, whatever the order the events
// arrive in and however often they repeat, and a range read from daily rows
// and the hourly rows at its ends gives the counts of the events in it.
func TestDailyRollups(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
		rows := append(dailyFixture("org_a", base, 900), dailyFixture("org_bb", base, 300)...)
		// Out of order, in batches of different sizes, each batch repeating
		// rows of earlier ones.
		rng := rand.New(rand.NewPCG(1, 2))
		order := rng.Perm(len(rows))
		var sent []EventRow
		for start := 0; start < len(order); {
			end := min(len(order), start+1+rng.IntN(150))
			var batch []EventRow
			for _, i := range order[start:end] {
				batch = append(batch, rows[i])
			}
			for k := 0; k < len(sent) && k < 40; k++ {
				batch = append(batch, sent[rng.IntN(len(sent))])
			}
			rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			insertRows(t, db, batch)
			for _, i := range order[start:end] {
				sent = append(sent, rows[i])
			}
			start = end
		}
		ranges := []struct {
			name     string
			from, to time.Time
		}{
			{"three whole days", base, base.Add(72 * time.Hour)},
			{"hours at both ends", base.Add(5 * time.Hour), base.Add(65 * time.Hour)},
			{"one day", base.Add(24 * time.Hour), base.Add(48 * time.Hour)},
			{"within a day", base.Add(26 * time.Hour), base.Add(31 * time.Hour)},
		}
		for _, rg := range ranges {
			for _, by := range []Dim{ByNone, ByDay, ByConnection, ByConfigSet, BySendingDomain, ByTemplate, ByRecipientDomain, ByTag} {
				var got []RollupCount
				view(t, db, func(tx *Tx) (err error) {
					got, err = RollupCounts(t.Context(), tx, "org_a", rg.from, rg.to, by)
					return err
				})
				gotMap := map[string]int64{}
				for _, c := range got {
					gotMap[c.Key+"|"+c.Value+"|"+c.Type+"|"+c.BounceType] += c.N
				}
				if want := expectedCounts(rows, "org_a", rg.from, rg.to, by); !maps.Equal(gotMap, want) {
					t.Errorf("%s by %q:\n got %v\nwant %v", rg.name, by, gotMap, want)
				}
			}
			for _, by := range []Dim{ByNone, ByDay, ByConnection, ByTemplate, ByRecipientDomain} {
				var got []FeedbackCount
				view(t, db, func(tx *Tx) (err error) {
					got, err = FeedbackCounts(t.Context(), tx, "org_a", rg.from, rg.to, by)
					return err
				})
				gotMap := map[string]int64{}
				for _, c := range got {
					gotMap[c.Key+"|"+c.Type+"|"+c.BounceType+"|"+c.SubType+"|"+c.StatusCode] += c.N
				}
				if want := expectedFeedback(rows, "org_a", rg.from, rg.to, by); !maps.Equal(gotMap, want) {
					t.Errorf("feedback, %s by %q:\n got %v\nwant %v", rg.name, by, gotMap, want)
				}
			}
		}
		// A type filter.
		var got []RollupCount
		view(t, db, func(tx *Tx) (err error) {
			got, err = RollupCounts(t.Context(), tx, "org_a", base.Add(5*time.Hour), base.Add(65*time.Hour), ByTemplate, "Send", "Delivery")
			return err
		})
		for _, c := range got {
			if c.Type != "Send" && c.Type != "Delivery" {
				t.Errorf("type filter: %+v", c)
			}
		}
		if len(got) == 0 {
			t.Error("type filter: no rows")
		}
	})
}

// tableRows reads a table's rows as sorted strings.
func tableRows(t *testing.T, db *DB, table, cols string) []string {
	t.Helper()
	var out []string
	view(t, db, func(tx *Tx) error {
		rows, err := tx.Query(t.Context(), `SELECT `+cols+` FROM `+table)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := len(strings.Split(cols, ","))
		for rows.Next() {
			vals := make([]any, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			out = append(out, fmt.Sprint(vals...))
		}
		return rows.Err()
	})
	slices.Sort(out)
	return out
}

// Migrations 0013 and 0014 fill the word, tag and daily tables from the
// rows stored before them exactly as ingest fills them: 0013's statements,
// run again over the same rows into tables of 0013's shape (keyed by the
// organisation id), then 0014's, which key them by the organisation's
// number, give the same tables.
func TestSearchScaleMigrationBackfill(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
		rows := dailyFixture("org_a", base, 400)
		for i := range rows {
			rows[i].Subject = []string{"Your order #%d has shipped", "Supercalifragilisticexpialidocious-extraordinary offer %d", "Café déjà vu, issue %d"}[(i/3)%3]
			rows[i].Subject = fmt.Sprintf(rows[i].Subject, i/3)
		}
		// Another organisation first: org_a's number is not 1.
		ensureOrgs(t, db, []EventRow{{OrgID: "org_0"}})
		insertRows(t, db, rows)
		tables := map[string]string{
			"subject_words":          "org_num, word, sent_at, message_ref",
			"message_tags":           "org_num, tag_key, tag_value, sent_at, message_ref",
			"rollups_daily":          "org_num, dim, day, key, value, event_type, bounce_type, count",
			"rollups_feedback_daily": "org_num, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count",
		}
		before := map[string][]string{}
		for table, cols := range tables {
			before[table] = tableRows(t, db, table, cols)
			if len(before[table]) == 0 {
				t.Fatalf("%s: no rows", table)
			}
			if nums := tableRows(t, db, table, "DISTINCT org_num"); !slices.Equal(nums, []string{"2"}) {
				t.Fatalf("%s: organisation numbers %q, want org_a's, 2", table, nums)
			}
		}
		if !slices.ContainsFunc(before["subject_words"], func(s string) bool { return strings.Contains(s, "…") }) {
			t.Error("no shortened long word")
		}
		statements := func(version string, keep func(string) bool) []string {
			b, err := migrationFiles.ReadFile("migrations/" + string(db.Engine) + "/" + version + ".sql")
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, stmt := range strings.Split(string(b), ";\n") {
				var lines []string
				for _, l := range strings.Split(stmt, "\n") {
					if !strings.HasPrefix(strings.TrimSpace(l), "--") {
						lines = append(lines, l)
					}
				}
				if s := strings.TrimSpace(strings.Join(lines, "\n")); keep(s) {
					out = append(out, s)
				}
			}
			return out
		}
		// 0013's tables under the names 0014 gives them before it copies them.
		var v13 []string
		for _, s := range statements("0013_search_scale", func(s string) bool {
			return strings.HasPrefix(s, "INSERT") || strings.HasPrefix(s, "CREATE TABLE")
		}) {
			for table := range tables {
				for _, verb := range []string{"CREATE TABLE ", "INSERT INTO ", "INSERT OR IGNORE INTO "} {
					s = strings.Replace(s, verb+table+" (", verb+table+"_0013 (", 1)
				}
			}
			// 0013 read the messages' organisation id, which 0017
			// replaced by its number.
			s = strings.ReplaceAll(s, "FROM ses_messages m,", "FROM (SELECT s.*, o.id AS org_id FROM ses_messages s JOIN orgs o ON o.num = s.org_num) m,")
			v13 = append(v13, s)
		}
		v14 := statements("0014_org_numbers", func(s string) bool { return strings.HasPrefix(s, "INSERT") })
		if len(v13) != 4+15 || len(v14) != 4 {
			t.Fatalf("%d CREATE TABLE and INSERT statements in 0013, %d INSERT statements in 0014", len(v13), len(v14))
		}
		update(t, db, func(tx *Tx) error {
			for table := range tables {
				if _, err := tx.Exec(t.Context(), `DELETE FROM `+table); err != nil {
					return err
				}
			}
			for _, s := range append(v13, v14...) {
				if _, err := tx.Exec(t.Context(), s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		})
		for table, cols := range tables {
			if after := tableRows(t, db, table, cols); !reflect.DeepEqual(after, before[table]) {
				t.Errorf("%s after the migrations' statements:\n got %d rows %q\nwant %d rows %q", table, len(after), after, len(before[table]), before[table])
			}
		}
	})
}

// A message's subject and tags are indexed when they are first stored, also
// by an event after the first; a long word is found by itself and by a
// prefix; a tag too long for the index is found by reading the messages.
func TestSubjectWordsAndTagsIndexed(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		db := statsDB(t, e.DSN)
		at := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
		long := strings.Repeat("x", 250)
		first := statsRow(1, "org_a", "m-1", "Send", "ann@gmail.com", at, "")
		later := statsRow(2, "org_a", "m-1", "Delivery", "ann@gmail.com", at.Add(time.Second),
			fmt.Sprintf(`{"campaign":["spring"],"big":[%q]}`, long))
		later.Subject = "Your Supercalifragilisticexpialidocious-Extraordinary receipt"
		other := statsRow(3, "org_a", "m-2", "Send", "bob@gmail.com", at, `{"campaign":["autumn"]}`)
		other.Subject = "Supercalifragilisticexpialidocious-Ordinary receipt"
		insertRows(t, db, []EventRow{first})
		insertRows(t, db, []EventRow{later, other})
		insertRows(t, db, []EventRow{later}) // a repeat changes nothing
		for _, c := range []struct {
			name string
			f    MessageSearch
			want []string
		}{
			{"long word", MessageSearch{Subject: ParseSubjectTerms("supercalifragilisticexpialidocious extraordinary")}, []string{"m-1"}},
			{"long word alone", MessageSearch{Subject: ParseSubjectTerms("supercalifragilisticexpialidocious")}, []string{"m-2", "m-1"}},
			{"long prefix", MessageSearch{Subject: ParseSubjectTerms("supercalifragilisticexpialid*")}, []string{"m-2", "m-1"}},
			{"long prefix, a word too", MessageSearch{Subject: ParseSubjectTerms("supercalifragilisticexpialid* ordinary")}, []string{"m-2"}},
			{"short prefix", MessageSearch{Subject: ParseSubjectTerms("super*")}, []string{"m-2", "m-1"}},
			{"word stored by a later event", MessageSearch{Subject: ParseSubjectTerms("your")}, []string{"m-1"}},
			{"tag stored by a later event", MessageSearch{Tags: []Tag{{"campaign", "spring"}}}, []string{"m-1"}},
			{"tag too long for the index", MessageSearch{Tags: []Tag{{"big", long}}}, []string{"m-1"}},
			{"no such word", MessageSearch{Subject: ParseSubjectTerms("supercalifragilisticexpialidociousness")}, nil},
		} {
			for _, override := range []string{"", "time"} {
				searchPlanOverride = override
				var got []string
				view(t, db, func(tx *Tx) error {
					f := c.f
					f.From = at.Add(-time.Hour)
					rows, err := SearchMessages(t.Context(), tx, "org_a", &f, nil, 10)
					for _, r := range rows {
						got = append(got, r.MessageID)
					}
					return err
				})
				searchPlanOverride = ""
				if !slices.Equal(got, c.want) {
					t.Errorf("%s (plan %q): %v, want %v", c.name, override, got, c.want)
				}
			}
		}
		if n := len(tableRows(t, db, "subject_words", "word")); n != 7 {
			t.Errorf("%d subject words stored, want 7: %q", n, tableRows(t, db, "subject_words", "word"))
		}
	})
}

// Every organisation has a number of its own from when it is stored: those
// stored before migration 0014 get one from it, later ones one above the
// greatest. A search or a count for an organisation without one (none
// stored) finds nothing.
func TestOrgNumbers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		db := openTestDBAt(t, e, 13)
		update(t, db, func(tx *Tx) error {
			for _, id := range []string{"org_old1", "org_old2"} {
				if err := CreateOrg(ctx, tx, &domain.Org{ID: id, Name: id}); err != nil {
					return err
				}
			}
			return nil
		})
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		update(t, db, func(tx *Tx) error {
			for _, id := range []string{"org_new1", "org_new2"} {
				if err := CreateOrg(ctx, tx, &domain.Org{ID: id, Name: id}); err != nil {
					return err
				}
			}
			return nil
		})
		nums := map[string]int64{}
		seen := map[int64]string{}
		view(t, db, func(tx *Tx) error {
			for _, id := range []string{"org_old1", "org_old2", "org_new1", "org_new2", "org_none"} {
				n, err := orgNum(ctx, tx, id)
				if err != nil {
					return err
				}
				nums[id] = n
				if n != 0 && seen[n] != "" {
					t.Errorf("%s and %s have number %d", seen[n], id, n)
				}
				seen[n] = id
			}
			return nil
		})
		for _, id := range []string{"org_old1", "org_old2", "org_new1", "org_new2"} {
			if nums[id] <= 0 {
				t.Errorf("%s: number %d", id, nums[id])
			}
		}
		if nums["org_none"] != 0 || nums["org_new1"] <= max(nums["org_old1"], nums["org_old2"]) || nums["org_new2"] <= nums["org_new1"] {
			t.Errorf("numbers %v", nums)
		}
		insertRows(t, db, dailyFixture("org_new2", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), 30))
		from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		view(t, db, func(tx *Tx) error {
			for _, org := range []string{"org_new2", "org_new1", "org_none"} {
				rc, err := RollupCounts(ctx, tx, org, from, to, ByConnection)
				if err != nil {
					return err
				}
				hits, err := SearchMessages(ctx, tx, org, &MessageSearch{From: from, To: to, Tags: []Tag{{"campaign", "c1"}}}, nil, 10)
				if err != nil {
					return err
				}
				if (len(rc) > 0) != (org == "org_new2") || (len(hits) > 0) != (org == "org_new2") {
					t.Errorf("%s: %d rollup counts, %d search rows", org, len(rc), len(hits))
				}
			}
			return nil
		})
	})
}
