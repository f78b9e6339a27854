package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

// certAuthority signs the certificates of the TLS test.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// pemBlock encodes one PEM block.
func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// newAuthority makes a CA and returns it with its certificate in PEM.
func newAuthority(t *testing.T) (*certAuthority, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keeper cli test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certAuthority{cert, key}, pemBlock("CERTIFICATE", der)
}

// sign returns a certificate for cn (valid for localhost and 127.0.0.1) and
// its key, both in PEM.
func (ca *certAuthority) sign(t *testing.T, cn string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", pkcs8)
}

func TestTLSFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caPEM := newAuthority(t)
	serverCert, serverKey := ca.sign(t, "zookeeper", 2, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.sign(t, "keeper-cli", 3, x509.ExtKeyUsageClientAuth)
	files := map[string][]byte{
		"server.pem": append(serverKey, serverCert...), "ca.pem": caPEM,
		"client.pem": clientCert, "client.key": clientKey,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port, err := zktest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	zktest.Start(t,
		zktest.Config("secureClientPort", strconv.Itoa(port)),
		zktest.Config("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory"),
		zktest.Config("ssl.keyStore.location", filepath.Join(dir, "server.pem")),
		zktest.Config("ssl.keyStore.type", "PEM"),
		zktest.Config("ssl.trustStore.location", filepath.Join(dir, "ca.pem")),
		zktest.Config("ssl.trustStore.type", "PEM"),
		zktest.Config("ssl.clientAuth", "need"),
		zktest.Classpath("/usr/share/java/netty-codec.jar"),
		zktest.Classpath("/usr/share/java/netty-resolver.jar"),
		zktest.Classpath("/usr/share/java/netty-transport-native-unix-common.jar"))
	secure := "localhost:" + strconv.Itoa(port)
	waitFor(t, 60*time.Second, "the secure port", func() bool {
		nc, err := net.DialTimeout("tcp", secure, time.Second)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	k := &cli{t: t, home: t.TempDir(), servers: secure}
	tlsArgs := []string{"--tls-ca", filepath.Join(dir, "ca.pem"), "--tls-cert", filepath.Join(dir, "client.pem"),
		"--tls-key", filepath.Join(dir, "client.key")}
	out := k.ok(append(tlsArgs, "whoami")...)
	if !strings.Contains(out, "x509") || !strings.Contains(out, "CN=keeper-cli") {
		t.Fatalf("whoami over TLS: %q", out)
	}
	k.fails(2, []string{"--tls-cert and --tls-key go together"}, "--tls-cert", filepath.Join(dir, "client.pem"), "ls")
	k.fails(1, []string{"no certificate found"}, "--tls-ca", filepath.Join(dir, "client.key"), "ls")
	k.fails(1, []string{"tls"}, "--tls-cert", filepath.Join(dir, "ca.pem"), "--tls-key", filepath.Join(dir, "client.key"), "ls")
}
