package api

// CancelRequest is the body of POST /api/v1/connections/cancel: the
// connection named by the cancel token its hello carried.
type CancelRequest struct {
	CancelToken string `json:"cancel_token"`
}
