package domain

import "testing"

func TestPermissionTable(t *testing.T) {
	member := func(r Role) *Actor { return &Actor{OrgID: "o", UserID: "u", Role: r} }
	key := func(s ...Scope) *Actor { return &Actor{OrgID: "o", KeyID: "k", Scopes: s} }
	cases := []struct {
		actor *Actor
		act   Action
		want  bool
	}{
		{member(RoleViewer), ActMembersView, true},
		{member(RoleViewer), ActMembersManage, false},
		{member(RoleDeveloper), ActAPIKeysManage, false},
		{member(RoleAdmin), ActAPIKeysManage, true},
		{member(RoleAdmin), ActAuditView, true},
		{member(RoleDeveloper), ActAuditView, false},
		{member(RoleAdmin), ActOrgUpdate, false},
		{member(RoleOwner), ActOrgUpdate, true},
		{member(Role("king")), ActMembersView, false},
		{&Actor{UserID: "u", Role: RoleOwner}, ActOrgView, false}, // no organisation
		{key(ScopeRead), ActOrgView, true},
		{key(ScopeRead), ActAPIKeysView, false},
		{key(ScopeAdmin), ActAPIKeysManage, true},
		{key(ScopeAdmin), ActOrgView, false}, // admin does not imply read
		{key(ScopeRead), ActRecipientsRead, false},
		{key(ScopeRecipientsRead), ActRecipientsRead, true},
		{member(RoleOwner), Action("nothing.here"), false},
	}
	for _, c := range cases {
		if got := c.actor.Can(c.act); got != c.want {
			t.Errorf("%+v Can(%s) = %v, want %v", c.actor, c.act, got, c.want)
		}
		if err := c.actor.Require(c.act); (err == nil) != c.want || (err != nil && ErrorCode(err) != EForbidden) {
			t.Errorf("%+v Require(%s) = %v", c.actor, c.act, err)
		}
	}
	for act, p := range Permissions {
		if !p.MinRole.Valid() || p.Scope == "" {
			t.Errorf("%s: incomplete permission %+v", act, p)
		}
	}
}

func TestParse(t *testing.T) {
	if s, err := ParseScopes(" read, admin ,read"); err != nil || len(s) != 2 {
		t.Errorf("ParseScopes = %v, %v", s, err)
	}
	for _, bad := range []string{"", " , ", "read,root"} {
		if _, err := ParseScopes(bad); ErrorCode(err) != EInvalid {
			t.Errorf("ParseScopes(%q) = %v", bad, err)
		}
	}
	if r, err := ParseRole(" Admin "); err != nil || r != RoleAdmin {
		t.Errorf("ParseRole = %v, %v", r, err)
	}
	if !RoleOwner.AtLeast(RoleAdmin) || RoleViewer.AtLeast(RoleDeveloper) {
		t.Error("role order is wrong")
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	a := NewID()
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	b := NewID()
	if len(a) != 26 || a[:9] > b[:9] {
		t.Fatalf("ids do not sort by time: %s then %s", a, b)
	}
}
