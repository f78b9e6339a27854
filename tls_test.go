package keeper_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// testCA is a certificate authority made at test time.
type testCA struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue makes a certificate for cn, valid for 127.0.0.1 and localhost,
// and returns it with its key, as PEM (key first) and as a tls.Certificate.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, usage x509.ExtKeyUsage) ([]byte, tls.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"keeper tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return append(keyPEM, certPEM...), pair
}

// connectLog records the errors of failed connection attempts that the
// client logs.
type connectLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *connectLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *connectLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *connectLog) WithGroup(string) slog.Handler            { return l }
func (l *connectLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "connect failed" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *connectLog) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[0]
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t, "keeper test CA")
	serverPEM, _ := ca.issue(t, "zookeeper", 2, x509.ExtKeyUsageServerAuth)
	_, clientCert := ca.issue(t, "keeper-client", 3, x509.ExtKeyUsageClientAuth)
	for name, data := range map[string][]byte{"keystore.pem": serverPEM, "ca.pem": ca.pem} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port, err := zktest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cl := zktest.Start(t,
		zktest.Config("secureClientPort", strconv.Itoa(port)),
		zktest.Config("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory"),
		zktest.Config("ssl.keyStore.location", filepath.Join(dir, "keystore.pem")),
		zktest.Config("ssl.keyStore.type", "PEM"),
		zktest.Config("ssl.trustStore.location", filepath.Join(dir, "ca.pem")),
		zktest.Config("ssl.trustStore.type", "PEM"),
		zktest.Config("ssl.clientAuth", "need"),
		zktest.Classpath("/usr/share/java/netty-codec.jar"),
		zktest.Classpath("/usr/share/java/netty-resolver.jar"),
		zktest.Classpath("/usr/share/java/netty-transport-native-unix-common.jar"))
	secure := "localhost:" + strconv.Itoa(port)
	ctx := ctxT(t)
	// The subtests run one after another: parallel ones could wait for a
	// free slot behind the package's other tests past ctx's deadline.
	// zktest waits for the plain port; the secure one may open a little later.
	waitFor(t, 60*time.Second, "the secure port", func() bool {
		nc, err := net.DialTimeout("tcp", secure, time.Second)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})

	t.Run("client cert", func(t *testing.T) {
		// No ServerName: the client sets it from the host, "localhost",
		// which the server's certificate names.
		c := connectTo(t, secure, "", keeper.WithTLS(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{clientCert}}))
		p, err := c.Create(ctx, "/"+zktest.ChrootName(t.Name()), []byte("over tls"), keeper.Ephemeral())
		if err != nil {
			t.Fatal(err)
		}
		if data, _, err := c.Get(ctx, p); err != nil || string(data) != "over tls" {
			t.Fatalf("Get = %q, %v", data, err)
		}
		if hasWhoAmI(t, ctx, c) {
			ids, err := c.WhoAmI(ctx)
			if err != nil || !slices.ContainsFunc(ids, func(ci keeper.ClientInfo) bool {
				return ci.Scheme == "x509" && strings.Contains(ci.User, "CN=keeper-client")
			}) {
				t.Fatalf("WhoAmI = %v, %v; want x509 CN=keeper-client", ids, err)
			}
		}
		// The same server over its plain port knows nothing of the cert.
		plain := connectTo(t, cl.Servers(), "")
		if ids, err := plain.WhoAmI(ctx); hasWhoAmI(t, ctx, plain) && (err != nil || slices.ContainsFunc(ids, func(ci keeper.ClientInfo) bool { return ci.Scheme == "x509" })) {
			t.Fatalf("plain WhoAmI = %v, %v", ids, err)
		}
	})

	t.Run("ip address", func(t *testing.T) {
		c := connectTo(t, "127.0.0.1:"+strconv.Itoa(port), "", keeper.WithTLS(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{clientCert}}))
		if _, err := c.Exists(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	})

	// failsWith starts a client with cfg and checks the first failed
	// attempt's error (the client logs it, and keeps trying).
	failsWith := func(t *testing.T, cfg *tls.Config, check func(error) bool) {
		t.Helper()
		log := &connectLog{}
		c, err := keeper.New(secure, keeper.WithTLS(cfg), keeper.WithLogger(slog.New(log)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(t, 30*time.Second, "a failed connection attempt", func() bool { return log.first() != nil })
		if err := log.first(); !check(err) || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("attempt failed with %v", err)
		}
		if c.State() == keeper.Connected {
			t.Fatal("connected")
		}
	}

	t.Run("untrusted server", func(t *testing.T) {
		other := newTestCA(t, "some other CA")
		failsWith(t, &tls.Config{RootCAs: other.pool, Certificates: []tls.Certificate{clientCert}}, func(err error) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua)
		})
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := keeper.Connect(short, secure, keeper.WithTLS(&tls.Config{RootCAs: other.pool})); err == nil {
			t.Fatal("Connect to an untrusted server succeeded")
		}
	})

	t.Run("wrong name", func(t *testing.T) {
		failsWith(t, &tls.Config{RootCAs: ca.pool, ServerName: "zk.example.com", Certificates: []tls.Certificate{clientCert}}, func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		})
	})

	t.Run("no client cert", func(t *testing.T) {
		failsWith(t, &tls.Config{RootCAs: ca.pool}, func(err error) bool {
			// The server's alert (TLS 1.2 ends the handshake with it).
			var ae tls.AlertError
			return errors.As(err, &ae) || strings.Contains(err.Error(), "certificate")
		})
	})
}
