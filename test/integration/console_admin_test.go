package integration

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// login logs u in with PLAIN and returns the session's form token.
func (u *consoleUser) login(user, pass string) string {
	u.t.Helper()
	if status, loc, _ := u.do(http.MethodPost, "/login", url.Values{"username": {user}, "password": {pass}, "mechanism": {"PLAIN"}, "next": {"/"}}); status != http.StatusSeeOther || loc != "/" {
		u.t.Fatalf("login as %s: %d %s", user, status, loc)
	}
	_, _, body := u.do(http.MethodGet, "/", nil)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		u.t.Fatalf("no form token for %s", user)
	}
	return m[1]
}

// page gets path as u, checks the status and returns the body.
func (u *consoleUser) page(path string, want int) string {
	u.t.Helper()
	status, _, body := u.do(http.MethodGet, path, nil)
	if status != want {
		u.t.Fatalf("GET %s: status %d, want %d; body:\n%s", path, status, want, body)
	}
	return body
}

// flash is the message a form's redirect carries (ok= or error=).
func flash(t *testing.T, loc string) (ok, failed string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("ok"), u.Query().Get("error")
}

// TestConsoleTransactionsAndProducers: an open transaction shows on the
// transactions page with its state, producer and partitions, and on its
// topic's producers page with the offset it started at; after the commit
// it no longer holds the partition open.
func TestConsoleTransactionsAndProducers(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	txnID := topicName(t, "txn")
	tx := newEOSClient(t, tb.Addr(), kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceSync(t, tx, &kgo.Record{Partition: 1, Value: []byte("t")})
	ctx := testCtx(t, 30*time.Second)
	pid, epoch, err := tx.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	body := consoleGet(t, base+"/transactions", http.StatusOK)
	row := fmt.Sprintf("<tr><td>%s</td><td>Ongoing</td><td>%d</td><td>%d</td>", txnID, pid, epoch)
	if !strings.Contains(body, row) || !strings.Contains(body, topic+"-1") {
		t.Fatalf("transactions page lacks %q and the partition %s-1:\n%s", row, topic, body)
	}
	checkAccessible(t, "transactions", body)
	if body := consoleGet(t, base+"/transactions?state=Empty", http.StatusOK); strings.Contains(body, ">"+txnID+"<") {
		t.Error("state=Empty lists an Ongoing transaction")
	}
	if body := consoleGet(t, base+"/transactions?state=Ongoing&q="+url.QueryEscape(strings.ToUpper(txnID)), http.StatusOK); !strings.Contains(body, ">"+txnID+"<") {
		t.Error("state=Ongoing and a case-insensitive search do not list the transaction")
	}
	consoleGet(t, base+"/transactions?state=Bogus", http.StatusBadRequest)

	if body := consoleGet(t, base+"/topics/"+topic, http.StatusOK); !strings.Contains(body, `href="/topics/`+topic+`/producers"`) {
		t.Error("the topic page does not link its producers")
	}
	body = consoleGet(t, base+"/topics/"+topic+"/producers", http.StatusOK)
	// partition 1, leader 1, the producer, last sequence 0, open from offset 0.
	if !strings.Contains(body, fmt.Sprintf("<tr><td>1</td><td>1</td><td>%d</td><td>%d</td><td>0</td>", pid, epoch)) || !strings.Contains(body, "<td>0</td></tr>") {
		t.Fatalf("producers page lacks the transactional producer on partition 1 open from offset 0:\n%s", body)
	}
	checkAccessible(t, "producers", body)
	consoleGet(t, base+"/topics/no-such-topic/producers", http.StatusNotFound)

	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the committed transaction on the pages", func() error {
		if b := consoleGet(t, base+"/topics/"+topic+"/producers", http.StatusOK); !strings.Contains(b, "<td>none</td></tr>") {
			return fmt.Errorf("producer still holds a transaction open")
		}
		if b := consoleGet(t, base+"/transactions", http.StatusOK); !strings.Contains(b, "<td>"+txnID+"</td><td>CompleteCommit</td>") {
			return fmt.Errorf("transaction not CompleteCommit")
		}
		return nil
	})
}

// TestConsoleACLs: create an ACL with the form, find it with the filter,
// delete exactly that binding after the confirmation page.
func TestConsoleACLs(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	body := consoleGet(t, base+"/acls", http.StatusOK)
	checkAccessible(t, "acls", body)
	tok := consoleCSRF(t, base+"/acls")
	create := func(principal, op string) {
		t.Helper()
		status, loc := consolePost(t, base+"/acls", url.Values{"csrf": {tok}, "principal": {principal}, "permission": {"ALLOW"}, "operation": {op},
			"resource_type": {"TOPIC"}, "resource_name": {topic}, "pattern_type": {"LITERAL"}, "host": {"*"}})
		if ok, failed := flash(t, loc); status != http.StatusSeeOther || ok == "" || failed != "" {
			t.Fatalf("create ACL %s %s: %d %s", principal, op, status, loc)
		}
	}
	create("User:alice", "READ")
	create("User:alice", "WRITE")
	create("User:bob", "READ")
	f := kadm.NewACLs().Topics(topic).ResourcePatternType(kadm.ACLPatternLiteral).Allow().AllowHosts().Operations(kadm.OpAny)
	res, err := adm.DescribeACLs(testCtx(t, 10*time.Second), f)
	if err != nil || len(res) != 1 || res[0].Err != nil || len(res[0].Described) != 3 {
		t.Fatalf("ACLs created through the console: %v %+v", err, res)
	}

	body = consoleGet(t, base+"/acls?principal=User:alice&type=TOPIC&name="+topic+"&pattern=LITERAL", http.StatusOK)
	for _, want := range []string{"<td>User:alice</td><td>ALLOW</td><td>READ</td><td>TOPIC</td><td>" + topic + "</td><td>LITERAL</td><td>*</td>", "<td>WRITE</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered list lacks %q", want)
		}
	}
	if strings.Contains(body, "User:bob") {
		t.Error("the principal filter lets bob's ACL through")
	}
	if status, loc := consolePost(t, base+"/acls", url.Values{"csrf": {tok}, "permission": {"ALLOW"}, "operation": {"READ"}, "resource_type": {"TOPIC"}, "resource_name": {topic}}); status != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Errorf("an ACL without a principal: %d %s, want an error", status, loc)
	}
	if status, _ := consolePost(t, base+"/acls", url.Values{"principal": {"User:eve"}, "permission": {"ALLOW"}, "operation": {"ALL"}, "resource_type": {"CLUSTER"}}); status != http.StatusForbidden {
		t.Errorf("create without a form token: status %d, want 403", status)
	}

	// Delete alice's READ: the row's link leads to a confirmation page
	// whose form names that binding only.
	link := "/acls/delete?" + url.Values{"resource_type": {"TOPIC"}, "resource_name": {topic}, "pattern_type": {"LITERAL"}, "principal": {"User:alice"},
		"host": {"*"}, "operation": {"READ"}, "permission": {"ALLOW"}}.Encode()
	if !strings.Contains(html.UnescapeString(body), `href="`+link+`"`) {
		t.Fatalf("the list does not link %s", link)
	}
	confirm := consoleGet(t, base+link, http.StatusOK)
	checkAccessible(t, "acl delete", confirm)
	if !strings.Contains(confirm, `name="operation" value="READ"`) || !strings.Contains(confirm, "Delete ACL") {
		t.Fatal("confirmation page lacks the binding's form")
	}
	form := url.Values{"csrf": {tok}}
	for k, v := range mustURL(t, link).Query() {
		form[k] = v
	}
	status, loc := consolePost(t, base+"/acls/delete", form)
	if ok, failed := flash(t, loc); status != http.StatusSeeOther || !strings.HasPrefix(ok, "deleted ALLOW User:alice READ") || failed != "" {
		t.Fatalf("delete: %d %s", status, loc)
	}
	res, err = adm.DescribeACLs(testCtx(t, 10*time.Second), f)
	if err != nil || len(res) != 1 || len(res[0].Described) != 2 {
		t.Fatalf("after deleting one binding: %v %+v, want 2 left", err, res)
	}
	for _, d := range res[0].Described {
		if d.Principal == "User:alice" && d.Operation == kmsg.ACLOperationRead {
			t.Error("alice's READ survived its deletion")
		}
	}
	status, loc = consolePost(t, base+"/acls/delete", form)
	if _, failed := flash(t, loc); status != http.StatusSeeOther || !strings.Contains(failed, "no such ACL") {
		t.Errorf("deleting it again: %d %s, want no such ACL", status, loc)
	}
}

// TestConsoleSCRAMUsers: create a SCRAM user with the form (it can then
// log in), change its password, list it without a password, delete it.
func TestConsoleSCRAMUsers(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withProp("console.listener", "http://127.0.0.1:0"))
	saslAddr := tb.ListenerAddr("SASL_PLAINTEXT")
	u := newConsoleUser(t, "http://"+tb.b.ConsoleAddr())
	tok := u.login("bob", "bob-pw")
	body := u.page("/users", http.StatusOK)
	checkAccessible(t, "users", body)
	if !strings.Contains(body, `type="password"`) {
		t.Error("the password field is not type=password")
	}

	status, loc, _ := u.do(http.MethodPost, "/users", url.Values{"csrf": {tok}, "user": {"dora"}, "password": {"dora-secret"}, "mechanism": {"SCRAM-SHA-512"}, "iterations": {"8192"}})
	if ok, failed := flash(t, loc); status != http.StatusSeeOther || ok == "" || failed != "" {
		t.Fatalf("create dora: %d %s", status, loc)
	}
	if err := ping(t, saslAddr, scram.Auth{User: "dora", Pass: "dora-secret"}.AsSha512Mechanism()); err != nil {
		t.Fatalf("dora's SCRAM-SHA-512 login: %v", err)
	}
	body = u.page("/users?q=DOR", http.StatusOK)
	if !strings.Contains(body, "<td>dora</td><td>SCRAM-SHA-512</td><td>8192</td>") {
		t.Fatalf("users page lacks dora's SCRAM-SHA-512 with 8192 iterations:\n%s", body)
	}
	if strings.Contains(body, "dora-secret") {
		t.Fatal("the users page shows a password")
	}
	// Upsert: a new password replaces the old one.
	status, loc, _ = u.do(http.MethodPost, "/users", url.Values{"csrf": {tok}, "user": {"dora"}, "password": {"dora-new"}, "mechanism": {"SCRAM-SHA-512"}, "iterations": {"4096"}})
	if _, failed := flash(t, loc); status != http.StatusSeeOther || failed != "" {
		t.Fatalf("change dora's password: %d %s", status, loc)
	}
	if err := ping(t, saslAddr, scram.Auth{User: "dora", Pass: "dora-new"}.AsSha512Mechanism()); err != nil {
		t.Fatalf("dora's new password: %v", err)
	}
	if !strings.Contains(u.page("/users", http.StatusOK), "<td>dora</td><td>SCRAM-SHA-512</td><td>4096</td>") {
		t.Error("users page does not show the new iterations")
	}
	status, loc, _ = u.do(http.MethodPost, "/users", url.Values{"csrf": {tok}, "user": {"dora"}, "password": {"x"}, "mechanism": {"SCRAM-SHA-512"}, "iterations": {"100"}})
	if _, failed := flash(t, loc); status != http.StatusSeeOther || !strings.Contains(failed, "iterations") {
		t.Errorf("100 iterations: %d %s, want refused", status, loc)
	}

	status, loc, _ = u.do(http.MethodPost, "/users/delete", url.Values{"csrf": {tok}, "user": {"dora"}, "mechanism": {"SCRAM-SHA-512"}})
	if ok, failed := flash(t, loc); status != http.StatusSeeOther || ok == "" || failed != "" {
		t.Fatalf("delete dora: %d %s", status, loc)
	}
	if strings.Contains(u.page("/users", http.StatusOK), "<td>dora</td>") {
		t.Error("dora still listed after her only credential was deleted")
	}
	if err := ping(t, saslAddr, scram.Auth{User: "dora", Pass: "dora-new"}.AsSha512Mechanism()); err == nil {
		t.Error("dora still logs in after deletion")
	}
}

// TestConsoleQuotas: set a user's and a default client id's quotas with
// the form, list and filter them, remove one key.
func TestConsoleQuotas(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t)
	adm := newAdmin(t, tb.Addr())
	tok := consoleCSRF(t, base+"/quotas")
	set := func(form url.Values) {
		t.Helper()
		form.Set("csrf", tok)
		status, loc := consolePost(t, base+"/quotas", form)
		if ok, failed := flash(t, loc); status != http.StatusSeeOther || ok == "" || failed != "" {
			t.Fatalf("quota %v: %d %s", form, status, loc)
		}
	}
	set(url.Values{"user": {"alice"}, "key": {"producer_byte_rate"}, "value": {"1048576"}, "op": {"set"}})
	set(url.Values{"user": {"alice"}, "key": {"consumer_byte_rate"}, "value": {"2048"}, "op": {"set"}})
	set(url.Values{"client-id": {"<default>"}, "key": {"request_percentage"}, "value": {"12.5"}, "op": {"set"}})
	qs, err := adm.DescribeClientQuotas(testCtx(t, 10*time.Second), false, nil)
	if err != nil || len(qs) != 2 {
		t.Fatalf("quotas after setting two entities: %v %+v", err, qs)
	}

	body := consoleGet(t, base+"/quotas", http.StatusOK)
	checkAccessible(t, "quotas", body)
	for _, want := range []string{"<td>user=alice</td><td>consumer_byte_rate</td><td>2048</td>", "<td>user=alice</td><td>producer_byte_rate</td><td>1048576</td>",
		"<td>client-id=&lt;default&gt;</td><td>request_percentage</td><td>12.5</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("quotas page lacks %q", want)
		}
	}
	if body := consoleGet(t, base+"/quotas?type=user&name=alice", http.StatusOK); strings.Contains(body, "<td>request_percentage</td>") || !strings.Contains(body, "<td>producer_byte_rate</td>") {
		t.Error("type=user&name=alice: want alice's quotas only")
	}
	if body := consoleGet(t, base+"/quotas?type=client-id&name=%3Cdefault%3E", http.StatusOK); !strings.Contains(body, "<td>request_percentage</td>") || strings.Contains(body, "user=alice") {
		t.Error("the default client id filter: want its quota only")
	}
	consoleGet(t, base+"/quotas?type=group", http.StatusBadRequest)

	set(url.Values{"user": {"alice"}, "key": {"producer_byte_rate"}, "op": {"remove"}})
	qs, err = adm.DescribeClientQuotas(testCtx(t, 10*time.Second), true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: strPtr("alice")}})
	if err != nil || len(qs) != 1 || len(qs[0].Values) != 1 || qs[0].Values[0].Key != "consumer_byte_rate" {
		t.Fatalf("alice's quotas after removing producer_byte_rate: %v %+v", err, qs)
	}
	status, loc := consolePost(t, base+"/quotas", url.Values{"csrf": {tok}, "key": {"producer_byte_rate"}, "value": {"1"}, "op": {"set"}})
	if _, failed := flash(t, loc); status != http.StatusSeeOther || !strings.Contains(failed, "name a user") {
		t.Errorf("a quota without an entity: %d %s", status, loc)
	}
	status, loc = consolePost(t, base+"/quotas", url.Values{"csrf": {tok}, "user": {"bob"}, "key": {"producer_byte_rate"}, "value": {"-5"}, "op": {"set"}})
	if _, failed := flash(t, loc); status != http.StatusSeeOther || failed == "" {
		t.Errorf("a negative rate: %d %s, want the broker's refusal", status, loc)
	}
}

func strPtr(s string) *string { return &s }

// TestConsoleAdminRefused: logged in as alice, who has no cluster ACLs,
// every admin page and action shows the broker's authorization failure.
func TestConsoleAdminRefused(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"), withProp("console.listener", "http://127.0.0.1:0"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	if res, err := adm.CreateACLs(testCtx(t, 15*time.Second), kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpDescribe)); err != nil || res[0].Err != nil {
		t.Fatalf("acl: %v %v", err, res)
	}
	u := newConsoleUser(t, "http://"+tb.b.ConsoleAddr())
	for _, p := range []string{"/acls", "/users", "/quotas", "/transactions"} {
		if status, loc, _ := u.do(http.MethodGet, p, nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("%s before login: %d %s, want the login page", p, status, loc)
		}
	}
	tok := u.login("alice", "alice-pw")
	for _, p := range []string{"/acls", "/users", "/quotas", "/topics/" + topic + "/producers"} {
		if body := u.page(p, http.StatusForbidden); !strings.Contains(body, "AUTHORIZATION_FAILED") {
			t.Errorf("%s as alice: 403 without the broker's error", p)
		}
	}
	// ListTransactions shows only what she may describe: not the open
	// transaction of a super user.
	tx := newEOSClient(t, tb.Addr(), kgo.TransactionalID(topicName(t, "txn")), kgo.DefaultProduceTopic(topic))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceSync(t, tx, &kgo.Record{Value: []byte("t")})
	if lt, err := adm.ListTransactions(testCtx(t, 10*time.Second), nil, nil); err != nil || len(lt) != 1 {
		t.Fatalf("transactions as a super user: %v %v", err, lt)
	}
	if body := u.page("/transactions", http.StatusOK); !strings.Contains(body, "No transactions.") {
		t.Error("alice sees a transaction she may not describe")
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/acls", url.Values{"principal": {"User:alice"}, "permission": {"ALLOW"}, "operation": {"ALL"}, "resource_type": {"CLUSTER"}}},
		{"/users", url.Values{"user": {"alice"}, "password": {"pw"}, "mechanism": {"SCRAM-SHA-256"}}},
		{"/users/delete", url.Values{"user": {"bob"}, "mechanism": {"SCRAM-SHA-256"}}},
		{"/quotas", url.Values{"user": {"alice"}, "key": {"producer_byte_rate"}, "value": {"1e12"}, "op": {"set"}}},
		{"/acls/delete", url.Values{"principal": {"User:alice"}, "permission": {"ALLOW"}, "operation": {"DESCRIBE"}, "resource_type": {"TOPIC"}, "resource_name": {topic}}},
	} {
		c.form.Set("csrf", tok)
		status, loc, _ := u.do(http.MethodPost, c.path, c.form)
		if _, failed := flash(t, loc); status != http.StatusSeeOther || !strings.Contains(failed, "AUTHORIZATION_FAILED") {
			t.Errorf("POST %s as alice: %d %s, want the broker's authorization failure", c.path, status, loc)
		}
	}
	res, err := adm.DescribeACLs(testCtx(t, 10*time.Second), kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(res) != 1 || len(res[0].Described) != 1 {
		t.Errorf("ACLs after alice's refused changes: %v %+v, want her one", err, res)
	}
}

// TestConsoleAdminReadOnly: in read-only mode the admin pages have no
// forms that change anything and refuse such posts.
func TestConsoleAdminReadOnly(t *testing.T) {
	t.Parallel()
	tb, base := consoleBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"), withProp("console.read.only", "true"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	if res, err := adm.CreateACLs(testCtx(t, 15*time.Second), kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpRead)); err != nil || res[0].Err != nil {
		t.Fatalf("acl: %v %v", err, res)
	}
	if _, err := adm.AlterClientQuotas(testCtx(t, 10*time.Second), []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: strPtr("alice")}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/acls", "/users", "/quotas", "/transactions", "/topics/" + topic + "/producers"} {
		body := consoleGet(t, base+p, http.StatusOK)
		if strings.Contains(body, `method="post"`) || strings.Contains(body, "/acls/delete") {
			t.Errorf("%s in read-only mode has a change form or link", p)
		}
	}
	if body := consoleGet(t, base+"/acls", http.StatusOK); !strings.Contains(body, "<td>User:alice</td>") {
		t.Error("read-only /acls does not list the ACL")
	}
	consoleGet(t, base+"/acls/delete?resource_type=TOPIC&resource_name="+topic+"&principal=User:alice&operation=READ&permission=ALLOW", http.StatusForbidden)
	for _, p := range []string{"/acls", "/acls/delete", "/users", "/users/delete", "/quotas"} {
		if status, _ := consolePost(t, base+p, url.Values{"principal": {"User:x"}}); status != http.StatusForbidden {
			t.Errorf("POST %s in read-only mode: status %d, want 403", p, status)
		}
	}
}

// TestConsoleACLsSecurityDisabled: without an authorizer the ACL page says
// so (the broker's SECURITY_DISABLED) instead of failing, and a create
// shows the same answer.
func TestConsoleACLsSecurityDisabled(t *testing.T) {
	t.Parallel()
	_, base := consoleBroker(t)
	body := consoleGet(t, base+"/acls", http.StatusOK)
	if !strings.Contains(body, "SECURITY_DISABLED") || !strings.Contains(body, "No ACLs match.") {
		t.Errorf("/acls without an authorizer lacks SECURITY_DISABLED")
	}
	tok := consoleCSRF(t, base+"/acls")
	status, loc := consolePost(t, base+"/acls", url.Values{"csrf": {tok}, "principal": {"User:a"}, "permission": {"ALLOW"}, "operation": {"READ"},
		"resource_type": {"TOPIC"}, "resource_name": {"t"}})
	if _, failed := flash(t, loc); status != http.StatusSeeOther || !strings.Contains(failed, "SECURITY_DISABLED") {
		t.Errorf("create without an authorizer: %d %s", status, loc)
	}
}
