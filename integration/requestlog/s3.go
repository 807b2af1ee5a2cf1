package requestlog

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ddbstream/pipeline/iam"
)

// S3's REST API names an operation by the method, whether the path names
// a bucket (/bucket) or an object (/bucket/key), and the subresource in
// the query (?uploads, ?tagging). The names are the SDK's, and the
// shapes those of its serializers (service/s3, each operation's
// httpbinding.SplitURI and method) and of the S3 API reference
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html).

// s3Params are query parameters that select nothing: an operation's
// options, a presigned URL's signature, and the SDK's x-id, a hint S3
// ignores. Every other parameter is a subresource.
var s3Params = []string{
	"x-id", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "fetch-owner",
	"encoding-type", "marker", "key-marker", "version-id-marker", "upload-id-marker", "max-uploads",
	"max-parts", "part-number-marker", "versionId", "partNumber", "max-buckets", "bucket-region",
	"response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires",
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
	"X-Amz-Signature", "X-Amz-Security-Token",
}

// bucketConfig are a bucket's configuration subresources: the operation
// that reads (GET), writes (PUT) and deletes (DELETE) each.
var bucketConfig = map[string][3]string{
	"accelerate":        {"GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", ""},
	"acl":               {"GetBucketAcl", "PutBucketAcl", ""},
	"cors":              {"GetBucketCors", "PutBucketCors", "DeleteBucketCors"},
	"encryption":        {"GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"},
	"lifecycle":         {"GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle"},
	"location":          {"GetBucketLocation", "", ""},
	"logging":           {"GetBucketLogging", "PutBucketLogging", ""},
	"notification":      {"GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", ""},
	"object-lock":       {"GetObjectLockConfiguration", "PutObjectLockConfiguration", ""},
	"ownershipControls": {"GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls"},
	"policy":            {"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"},
	"policyStatus":      {"GetBucketPolicyStatus", "", ""},
	"publicAccessBlock": {"GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"},
	"replication":       {"GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication"},
	"requestPayment":    {"GetBucketRequestPayment", "PutBucketRequestPayment", ""},
	"tagging":           {"GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging"},
	"versioning":        {"GetBucketVersioning", "PutBucketVersioning", ""},
	"website":           {"GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"},
}

// objectConfig are an object's subresources, as bucketConfig.
var objectConfig = map[string][3]string{
	"acl":        {"GetObjectAcl", "PutObjectAcl", ""},
	"attributes": {"GetObjectAttributes", "", ""},
	"legal-hold": {"GetObjectLegalHold", "PutObjectLegalHold", ""},
	"retention":  {"GetObjectRetention", "PutObjectRetention", ""},
	"tagging":    {"GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"},
	"torrent":    {"GetObjectTorrent", "", ""},
}

// configMethods index bucketConfig's and objectConfig's operations.
var configMethods = []string{http.MethodGet, http.MethodPut, http.MethodDelete}

// parseS3 names a path-style S3 request (/bucket/key?query): the key is
// the path after the bucket, URL-decoded.
func parseS3(r *http.Request) []iam.Call {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	var subs []string
	for k := range q {
		if !slices.Contains(s3Params, k) {
			subs = append(subs, k)
		}
	}
	slices.Sort(subs)
	c := iam.Call{Service: "s3", Bucket: bucket, Key: key}
	var op string
	switch {
	case bucket == "":
		if r.Method == http.MethodGet && len(subs) == 0 {
			op = "ListBuckets"
		}
	case key == "":
		c.Prefix = q.Get("prefix")
		op = bucketOperation(r.Method, subs, q)
	default:
		c.VersionID = q.Get("versionId")
		op = objectOperation(r, subs)
	}
	if op == "" {
		c.Operation = UnknownOperation + "S3 " + r.Method + " " + r.URL.Path + query(subs) + " is no operation recorded here"
		return []iam.Call{c}
	}
	c.Operation = op
	if op != "CopyObject" && op != "UploadPartCopy" {
		return []iam.Call{c}
	}
	return []iam.Call{c, copySource(r.Header.Get("X-Amz-Copy-Source"))}
}

// bucketOperation names an operation on a bucket; "" if none.
func bucketOperation(method string, subs []string, q url.Values) string {
	switch len(subs) {
	case 0:
		return map[string]string{http.MethodGet: "ListObjects", http.MethodHead: "HeadBucket",
			http.MethodPut: "CreateBucket", http.MethodDelete: "DeleteBucket"}[method]
	case 1:
	default:
		return ""
	}
	switch sub := subs[0]; {
	case method == http.MethodGet && sub == "list-type":
		if q.Get("list-type") == "2" {
			return "ListObjectsV2"
		}
		return ""
	case method == http.MethodGet && sub == "versions":
		return "ListObjectVersions"
	case method == http.MethodGet && sub == "uploads":
		return "ListMultipartUploads"
	case method == http.MethodPost && sub == "delete":
		return "DeleteObjects"
	default:
		return config(bucketConfig, method, sub)
	}
}

// objectOperation names an operation on an object; "" if none.
func objectOperation(r *http.Request, subs []string) string {
	copying := r.Header.Get("X-Amz-Copy-Source") != ""
	switch strings.Join(subs, "&") {
	case "":
		switch r.Method {
		case http.MethodGet:
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodDelete:
			return "DeleteObject"
		case http.MethodPut:
			if copying {
				return "CopyObject"
			}
			return "PutObject"
		}
	case "uploads":
		if r.Method == http.MethodPost {
			return "CreateMultipartUpload"
		}
	case "uploadId":
		switch r.Method {
		case http.MethodGet:
			return "ListParts"
		case http.MethodPost:
			return "CompleteMultipartUpload"
		case http.MethodDelete:
			return "AbortMultipartUpload"
		case http.MethodPut:
			if !r.URL.Query().Has("partNumber") {
				return ""
			}
			if copying {
				return "UploadPartCopy"
			}
			return "UploadPart"
		}
	case "restore":
		if r.Method == http.MethodPost {
			return "RestoreObject"
		}
	case "select&select-type":
		if r.Method == http.MethodPost {
			return "SelectObjectContent"
		}
	default:
		if len(subs) == 1 {
			return config(objectConfig, r.Method, subs[0])
		}
	}
	return ""
}

func config(table map[string][3]string, method, sub string) string {
	ops, ok := table[sub]
	if i := slices.Index(configMethods, method); ok && i >= 0 {
		return ops[i]
	}
	return ""
}

func query(subs []string) string {
	if len(subs) == 0 {
		return ""
	}
	return "?" + strings.Join(subs, "&")
}

// copySource is the read a copy makes of its source, which IAM authorizes
// as s3:GetObject (s3:GetObjectVersion with a version) on the source
// object: a GetObject Call naming it. x-amz-copy-source is
// bucket/key[?versionId=...], URL-encoded, optionally with a leading
// slash
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
func copySource(header string) iam.Call {
	c := iam.Call{Service: "s3", Operation: "GetObject"}
	src, version, _ := strings.Cut(header, "?versionId=")
	decoded, err := url.PathUnescape(strings.TrimPrefix(src, "/"))
	if err != nil || strings.HasPrefix(decoded, "arn:") {
		c.Operation = UnknownOperation + "copy source " + header + " is not bucket/key"
		return c
	}
	c.Bucket, c.Key, _ = strings.Cut(decoded, "/")
	if c.Key == "" {
		c.Operation = UnknownOperation + "copy source " + header + " is not bucket/key"
		return c
	}
	c.VersionID, _ = url.QueryUnescape(version)
	return c
}
