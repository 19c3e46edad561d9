package api

// ResourceRole is an applied role as people use it: where it connects and
// through which agent. Its password stays sealed in the
type ResourceRole struct {
	Name        string `json:"name"`
	Resource    string `json:"resource_name"`
	Label       string `json:"role"`
	Type        string `json:"type"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Database    string `json:"database"`
	SSLMode     string `json:"sslmode"`
	Agent       string `json:"agent"`
	HasPassword bool   `json:"has_password"`
	Status      string `json:"status"`
	LastApply   string `json:"last_apply_sid,omitempty"`
}

// RetireRequest is the body of POST /api/v1/roles/{name}/retire.
type RetireRequest struct {
	Heir string `json:"heir"`
}
