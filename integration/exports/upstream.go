package exports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// upstream makes the endpoint's own calls to DynamoDB Local in the raw
// JSON protocol, so that scanned items keep their exact text (numbers,
// escapes) on their way into the export's data files.
type upstream struct {
	url    string
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
	client http.Client
}

// call posts one operation, signed as the SDK signs it (DynamoDB Local
// reads the access key and region from the signature to pick its
// database), and decodes the answer into out.
func (u *upstream) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	creds, err := u.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials for DynamoDB Local: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := u.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "dynamodb", u.region, time.Now()); err != nil {
		return fmt.Errorf("sign %s: %w", op, err)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s upstream: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s upstream: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		code := e.Type
		if i := bytes.LastIndexByte([]byte(code), '#'); i >= 0 {
			code = code[i+1:]
		}
		return &apiError{status: resp.StatusCode, code: code, message: e.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s upstream answer: %w", op, err)
	}
	return nil
}

// tableDesc is the part of DescribeTable an export needs.
type tableDesc struct {
	TableName string
	TableArn  string
	TableId   string
	KeySchema []struct {
		AttributeName string
		KeyType       string
	}
	CreationDateTime json.Number
}

func (t tableDesc) created() time.Time {
	f, err := strconv.ParseFloat(string(t.CreationDateTime), 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(f * 1000)).UTC()
}

// hashKey names the partition key attribute.
func (t tableDesc) hashKey() string {
	for _, k := range t.KeySchema {
		if k.KeyType == "HASH" {
			return k.AttributeName
		}
	}
	return ""
}

// id returns the table's ID, or one derived from its ARN where DynamoDB
// Local gives none, shaped like AWS's (a UUID).
func (t tableDesc) id() string {
	if t.TableId != "" {
		return t.TableId
	}
	s := sha256.Sum256([]byte(t.TableArn))
	h := hex.EncodeToString(s[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (u *upstream) describeTable(ctx context.Context, name string) (tableDesc, error) {
	var out struct{ Table tableDesc }
	err := u.call(ctx, "DescribeTable", map[string]string{"TableName": name}, &out)
	return out.Table, err
}

// scan reads every item of a table, strongly consistent, each as the
// JSON DynamoDB Local sent.
func (u *upstream) scan(ctx context.Context, name string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	in := map[string]any{"TableName": name, "ConsistentRead": true}
	for {
		var out struct {
			Items            []json.RawMessage
			LastEvaluatedKey json.RawMessage
		}
		if err := u.call(ctx, "Scan", in, &out); err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 || string(out.LastEvaluatedKey) == "null" {
			return items, nil
		}
		in["ExclusiveStartKey"] = out.LastEvaluatedKey
	}
}
