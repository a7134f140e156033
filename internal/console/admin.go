package console

import "net/http"

// adminRoutes are the pages of the cluster's security and transaction
// state: each reads and changes it through the Kafka admin APIs as the
// logged-in user, so the broker's ACLs decide (docs/CONSOLE.md).
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /transactions", s.transactions)
	mux.HandleFunc("GET /topics/{topic}/producers", s.producers)
	mux.HandleFunc("GET /acls", s.acls)
	mux.HandleFunc("POST /acls", s.createACL)
	mux.HandleFunc("GET /acls/delete", s.deleteACLConfirm)
	mux.HandleFunc("POST /acls/delete", s.deleteACL)
	mux.HandleFunc("GET /users", s.users)
	mux.HandleFunc("POST /users", s.upsertUser)
	mux.HandleFunc("POST /users/delete", s.deleteUser)
	mux.HandleFunc("GET /quotas", s.quotas)
	mux.HandleFunc("POST /quotas", s.alterQuota)
}
