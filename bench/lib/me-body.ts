/** A /api/auth/me answer of the shape the API gives (one clinic membership). */
export const ME_BODY = {
  user: { id: '0b6c5a53-1f43-4c2e-9a55-3c2a0d1e7f10', name: 'Dra. Benchmark', email: 'bench@example.com' },
  clinic: { id: '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b', name: 'Clínica Benchmark', timezone: 'America/Sao_Paulo' },
  role: 'admin',
  isProfessional: true,
  memberships: [{ clinicId: '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b', clinicName: 'Clínica Benchmark', role: 'admin', isProfessional: true }],
};
