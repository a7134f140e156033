package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

type scramRow struct {
	User  string
	Creds []kadm.CredInfo
	Err   string
}

type usersData struct {
	Query string
	Rows  []scramRow
	Pager pager
}

// users lists the SCRAM users (DescribeUserScramCredentials of all):
// mechanisms and iterations only, the broker never returns a password or
// its salted form.
func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	all, err := sessionOf(ctx).adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		s.fail(w, r, adminStatus(err), "SCRAM users", err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var rows []scramRow
	for _, u := range all.Sorted() {
		if q != "" && !strings.Contains(strings.ToLower(u.User), strings.ToLower(q)) {
			continue
		}
		row := scramRow{User: u.User, Creds: u.CredInfos}
		if u.Err != nil {
			row.Err = errText(u.Err, u.ErrMessage)
		}
		rows = append(rows, row)
	}
	pg := paginate(r, len(rows), s.cfg.PageSize)
	s.render(w, r, "users", page{Title: "SCRAM users", Nav: "users", Data: usersData{Query: q, Rows: rows[pg.From:pg.To], Pager: pg}})
}

func scramMechanism(s string) (kadm.ScramMechanism, error) {
	switch s {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	}
	return 0, fmt.Errorf("mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", s)
}

// upsertUser creates or replaces one user's credential for one mechanism
// (AlterUserScramCredentials). kadm salts and hashes the password here, so
// only the salted password crosses the wire, as kafka-configs does.
func (s *Server) upsertUser(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("user"))
	mech, err := scramMechanism(r.PostForm.Get("mechanism"))
	iters := int64(4096)
	if err == nil && r.PostForm.Get("iterations") != "" {
		iters, err = strconv.ParseInt(r.PostForm.Get("iterations"), 10, 32)
	}
	pw := r.PostForm.Get("password")
	switch {
	case err != nil:
	case user == "":
		err = errors.New("give a user name")
	case pw == "":
		err = errors.New("give a password")
	}
	if err != nil {
		redirect(w, r, "/users", "user: "+err.Error(), true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := sessionOf(ctx).adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: mech, Iterations: int32(iters), Password: pw}})
	if err == nil {
		err = alteredErr(res, user)
	}
	if err != nil {
		redirect(w, r, "/users", "user "+user+": "+err.Error(), true)
		return
	}
	redirect(w, r, "/users", fmt.Sprintf("set %s credentials of %s (%d iterations)", mech, user, iters), false)
}

// deleteUser removes one user's credential for one mechanism; a user
// with none left is gone.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	user := r.PostForm.Get("user")
	mech, err := scramMechanism(r.PostForm.Get("mechanism"))
	if err != nil {
		redirect(w, r, "/users", "delete: "+err.Error(), true)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := sessionOf(ctx).adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: user, Mechanism: mech}}, nil)
	if err == nil {
		err = alteredErr(res, user)
	}
	if err != nil {
		redirect(w, r, "/users", "delete "+user+": "+err.Error(), true)
		return
	}
	redirect(w, r, "/users", fmt.Sprintf("deleted %s credentials of %s", mech, user), false)
}

func alteredErr(res kadm.AlteredUserSCRAMs, user string) error {
	a, ok := res[user]
	if !ok {
		return fmt.Errorf("no result for %s", user)
	}
	if a.Err != nil {
		return errors.New(errText(a.Err, a.ErrMessage))
	}
	return nil
}
