// The part of the cert-manager v1 API (cert-manager.io/v1) that makegood's
// overlays use, for the `tsc --strict` check of deploy/check.sh:
// kubernetes-models has no cert-manager classes, and an interface that lists
// only known fields still rejects misspelt or misplaced ones. Field names and
// enums follow https://cert-manager.io/docs/reference/api-docs/ -- extend this
// file when a manifest needs another field, never loosen it to `any`.
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";

type Duration = string; // Go duration: "2160h", "720h0m0s"

export interface IIssuerRef {
  name: string;
  kind?: "Issuer" | "ClusterIssuer";
  group?: string;
}

export interface ICertificate {
  apiVersion: "cert-manager.io/v1";
  kind: "Certificate";
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: {
    secretName: string;
    issuerRef: IIssuerRef;
    secretTemplate?: {
      annotations?: { [key: string]: string };
      labels?: { [key: string]: string };
    };
    commonName?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    uris?: string[];
    emailAddresses?: string[];
    isCA?: boolean;
    duration?: Duration;
    renewBefore?: Duration;
    revisionHistoryLimit?: number;
    usages?: Array<
      | "signing"
      | "digital signature"
      | "content commitment"
      | "key encipherment"
      | "key agreement"
      | "data encipherment"
      | "cert sign"
      | "crl sign"
      | "encipher only"
      | "decipher only"
      | "any"
      | "server auth"
      | "client auth"
      | "code signing"
      | "email protection"
      | "s/mime"
      | "ipsec end system"
      | "ipsec tunnel"
      | "ipsec user"
      | "timestamping"
      | "ocsp signing"
      | "microsoft sgc"
      | "netscape sgc"
    >;
    privateKey?: {
      algorithm?: "RSA" | "ECDSA" | "Ed25519";
      encoding?: "PKCS1" | "PKCS8";
      size?: number;
      rotationPolicy?: "Never" | "Always";
    };
  };
}

interface IIssuerSpec {
  selfSigned?: { crlDistributionPoints?: string[] };
  ca?: { secretName: string; crlDistributionPoints?: string[] };
}

export interface IIssuer {
  apiVersion: "cert-manager.io/v1";
  kind: "Issuer";
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: IIssuerSpec;
}

export interface IClusterIssuer {
  apiVersion: "cert-manager.io/v1";
  kind: "ClusterIssuer";
  metadata: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec: IIssuerSpec;
}
